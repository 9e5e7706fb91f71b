"""Quarry's SigV4 signer gives botocore's own signature, header for header, across dates, secrets and paths."""

from __future__ import annotations

import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from quarry.bedrock import SigV4Signer, StaticCredentials

BODY = b'{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}'
URLS = [
    "http://127.0.0.1:8181/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.x/converse-stream",
]


def _botocore(url: str, headers: dict[str, str], secret: str, token: str | None) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=BODY, headers=dict(headers))
    SigV4Auth(Credentials("AKIDTEST", secret, token), "bedrock", "us-west-2").add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("token", [None, "session-token"])
async def test_signatures_match_botocore_as_the_date_and_secret_change(
    monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    # One signer, reused as the gateway reuses it: its remembered key and paths must follow the date and the secret.
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret", token), "us-west-2")
    for day, secret in [(1, "secret"), (1, "secret"), (2, "secret"), (2, "rotated"), (1, "secret")]:
        now = datetime.datetime(2026, 12, day, 23, 59, 30)
        monkeypatch.setattr("botocore.auth.get_current_datetime", lambda now=now: now)
        signer._credentials = StaticCredentials("AKIDTEST", secret, token)  # the chain handing over rotated keys
        for url in URLS:
            headers = {"Host": url.split("/")[2], "Content-Type": "application/json", "Accept": "application/json"}
            assert await signer.sign("POST", url, dict(headers), BODY) == _botocore(url, headers, secret, token)
