"""Quarry's SigV4 signer gives botocore's own signature, header for header, across dates, secrets, paths, headers
and re-signed retries."""

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
    "https://bedrock-runtime.us-east-1.amazonaws.com/anthropic/v1/messages",
]
# What the runtime and the relay send besides the basics: Anthropic's headers (a value with runs of spaces, which
# SigV4 folds), the service tier, and a header SigV4 leaves unsigned.
EXTRA = {
    "anthropic-version": "bedrock-2023-05-31",
    "anthropic-beta": "context-1m-2025-08-07,   interleaved-thinking-2025-05-14",
    "X-Amzn-Bedrock-Service-Tier": "priority",
    "User-Agent": "quarry/test",
}


def _botocore(url: str, headers: dict[str, str], secret: str, token: str | None) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=BODY, headers=dict(headers))
    SigV4Auth(Credentials("AKIDTEST", secret, token), "bedrock", "us-west-2").add_auth(request)
    return dict(request.headers.items())


def _at(monkeypatch: pytest.MonkeyPatch, now: datetime.datetime) -> None:
    """Both signers' clocks at `now` (UTC)."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: now)
    stamp = now.replace(tzinfo=datetime.UTC).timestamp()
    monkeypatch.setattr("quarry.bedrock._signing.clock", lambda: stamp)


def _headers(url: str, extra: dict[str, str]) -> dict[str, str]:
    return {"Host": url.split("/")[2], "Content-Type": "application/json", "Accept": "application/json", **extra}


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize("extra", [{}, EXTRA], ids=["basic", "anthropic-and-tier"])
async def test_signatures_match_botocore_as_the_date_and_secret_change(
    monkeypatch: pytest.MonkeyPatch, token: str | None, extra: dict[str, str]
) -> None:
    # One signer, reused as the gateway reuses it: its remembered key, date and paths must follow the clock and
    # the secret.
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret", token), "us-west-2")
    for day, second, secret in [
        (1, 30, "secret"),
        (1, 31, "secret"),
        (2, 0, "secret"),
        (2, 0, "rotated"),
        (1, 5, "secret"),
    ]:
        _at(monkeypatch, datetime.datetime(2026, 12, day, 23, 59, second))
        signer._credentials = StaticCredentials("AKIDTEST", secret, token)  # the chain handing over rotated keys
        for url in URLS:
            headers = _headers(url, extra)
            signed = await signer.sign("POST", url, dict(headers), BODY)
            assert signed == _botocore(url, headers, secret, token)
            assert signed["X-Amz-Date"] == f"202612{day:02}T2359{second:02}Z"
            assert ("X-Amz-Security-Token" in signed) == (token is not None)


async def test_a_retry_signs_its_headers_again_as_botocore_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # Headers that were signed once, signed again later: the old Authorization, date and token are replaced, not
    # signed over or sent twice.
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret", "token-1"), "us-west-2")
    url = URLS[0]
    _at(monkeypatch, datetime.datetime(2026, 12, 5, 8, 0, 0))
    first = await signer.sign("POST", url, _headers(url, EXTRA), BODY)
    _at(monkeypatch, datetime.datetime(2026, 12, 5, 8, 0, 7))
    signer._credentials = StaticCredentials("AKIDTEST", "secret", "token-2")
    again = await signer.sign("POST", url, dict(first), BODY)
    assert again == _botocore(url, first, "secret", "token-2")
    assert again["X-Amz-Date"] == "20261205T080007Z"
    assert again["X-Amz-Security-Token"] == "token-2"
    assert again["Authorization"] != first["Authorization"]
    assert sorted(again) == sorted(first)  # the same names, each once
