"""SigV4 with AWS credentials Quarry issued for a team key: boto3 signs as it signs for Bedrock, Quarry verifies the
signature with botocore's signer, and the call is the team key's (scopes, usage). Wrong secrets, tampered bodies,
old signatures and revoked keys are refused in Bedrock's words, before anything reaches Bedrock."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.bedrock.conftest import ADMIN, HAIKU, HELLO, SONNET_45_PROFILE, Client, Gateway, TeamKey

ANSWER = 'You said: "Say hello."'
CLAUDE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "Say hello."}],
}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def _credentials(key: TeamKey) -> tuple[str, str]:
    assert key.aws is not None
    return key.aws


def _refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response: Any = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@pytest.mark.parametrize("prefix", ["", "/bedrock"], ids=["root", "bedrock prefix"])
def test_every_runtime_operation_signed_with_issued_credentials(gateway: Gateway, signed: Client, prefix: str) -> None:
    key = gateway.key(models=["*anthropic.*"], aws=True)
    access_key_id, secret = _credentials(key)
    assert access_key_id.startswith("QKIA")
    assert (len(access_key_id), len(secret)) == (20, 40)  # the lengths of AWS's own
    runtime = signed("bedrock-runtime", key.aws, gateway.url + prefix)
    answer = runtime.converse(modelId=HAIKU, messages=HELLO, inferenceConfig={"maxTokens": 50})
    assert answer["output"]["message"]["content"] == [{"text": ANSWER}]
    events = list(runtime.converse_stream(modelId=SONNET_45_PROFILE, messages=HELLO)["stream"])
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == ANSWER
    invoked = json.loads(runtime.invoke_model(modelId=HAIKU, body=json.dumps(CLAUDE_BODY))["body"].read())
    assert invoked["content"] == [{"type": "text", "text": ANSWER}]
    streamed = runtime.invoke_model_with_response_stream(modelId=SONNET_45_PROFILE, body=json.dumps(CLAUDE_BODY))
    chunks = [json.loads(event["chunk"]["bytes"]) for event in streamed["body"]]
    assert "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta") == ANSWER
    counted = runtime.count_tokens(modelId=SONNET_45_PROFILE, input={"converse": {"messages": HELLO}})
    assert counted["inputTokens"] > 0
    # Every call is the team key's: its scopes held and its usage recorded.
    with pytest.raises(ClientError) as refused:
        runtime.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=HELLO)
    assert _refusal(refused)[:2] == (403, "AccessDeniedException")
    row = gateway.usage_of(key, requests=6)
    assert (row["requests"], row["errors"]) == (6, 1)
    assert row["input_tokens"] > 0
    assert row["output_tokens"] > 0


def test_the_bedrock_clients_listings_signed(gateway: Gateway, signed: Client) -> None:
    key = gateway.key(models=["anthropic.claude-3-haiku-*"], aws=True)
    control = signed("bedrock", _credentials(key), gateway.url)
    listed = control.list_foundation_models()
    assert [model["modelId"] for model in listed["modelSummaries"]] == [HAIKU]
    assert control.get_foundation_model(modelIdentifier=HAIKU)["modelDetails"]["modelId"] == HAIKU
    profiles = control.list_inference_profiles(typeEquals="SYSTEM_DEFINED", maxResults=100)
    ids = [profile["inferenceProfileId"] for profile in profiles["inferenceProfileSummaries"]]
    assert ids  # Haiku's own profiles, through the base model they route to; no other
    assert all(profile.endswith("." + HAIKU) for profile in ids)
    everything = gateway.key(aws=True)
    profiles = signed("bedrock", _credentials(everything), gateway.url).list_inference_profiles(
        typeEquals="SYSTEM_DEFINED"
    )
    assert SONNET_45_PROFILE in {p["inferenceProfileId"] for p in profiles["inferenceProfileSummaries"]}


def test_a_wrong_secret_and_an_unknown_access_key_are_refused(gateway: Gateway, signed: Client) -> None:
    key = gateway.key(aws=True)
    access_key_id, _ = _credentials(key)
    calls = gateway.calls()
    with pytest.raises(ClientError) as wrong:
        signed("bedrock-runtime", (access_key_id, "x" * 40), gateway.url).converse(modelId=HAIKU, messages=HELLO)
    status, code, message = _refusal(wrong)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    with pytest.raises(ClientError) as unknown:
        signed("bedrock", ("QKIAAAAAAAAAAAAAAAAA", "y" * 40), gateway.url).list_foundation_models()
    assert _refusal(unknown) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    url = f"{gateway.url}/model/{HAIKU}/converse"
    body = json.dumps({"messages": HELLO}).encode()
    other = httpx.post(url, content=body, headers=_signed_headers(key, url, body, service="sts"))
    assert (other.status_code, other.json()) == (
        403,
        {"message": "Credential should be scoped to correct service: 'bedrock'."},
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{access_key_id}/{stamp[:8]}/us-east-1/bedrock/aws4_request"
    odd = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature=\xe9"
    garbled = httpx.get(
        f"{gateway.url}/foundation-models", headers={"Authorization": odd.encode("latin-1"), "X-Amz-Date": stamp}
    )
    assert (garbled.status_code, garbled.headers["x-amzn-errortype"].split(":")[0]) == (
        403,
        "InvalidSignatureException",
    )
    malformed = httpx.get(
        f"{gateway.url}/foundation-models",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=QKIAAAAAAAAAAAAAAAAA/20261205/us-east-1/bedrock/aws4_request"
        },
    )
    assert (malformed.status_code, malformed.headers["x-amzn-errortype"].split(":")[0]) == (400, "IncompleteSignature")
    assert malformed.json() == {"message": "Authorization header requires 'SignedHeaders', 'Signature' parameter(s)."}
    assert gateway.calls() == calls  # nothing reached Bedrock


def _signed_headers(key: TeamKey, url: str, body: bytes, *, service: str = "bedrock", **headers: str) -> dict[str, str]:
    """The headers of a request signed by botocore's signer as boto3 signs it, to send with another body."""
    access_key_id, secret = _credentials(key)
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json", **headers})
    SigV4Auth(Credentials(access_key_id, secret), service, "us-west-2").add_auth(request)
    return dict(request.headers.items())


def test_a_tampered_body_is_refused_and_an_unsigned_payload_taken(gateway: Gateway) -> None:
    key = gateway.key(aws=True)
    url = f"{gateway.url}/model/{HAIKU}/converse"
    body = json.dumps({"messages": HELLO}).encode()
    tampered = json.dumps({"messages": [{"role": "user", "content": [{"text": "Say goodbye."}]}]}).encode()
    sent = httpx.post(url, content=tampered, headers=_signed_headers(key, url, body))
    assert (sent.status_code, sent.headers["x-amzn-errortype"].split(":")[0]) == (403, "InvalidSignatureException")
    assert "does not match the signature you provided" in sent.json()["message"]
    # The payload's hash declared in x-amz-content-sha256 must be the body's.
    declared = _signed_headers(key, url, body, **{"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert httpx.post(url, content=body, headers=declared).status_code == 200
    sent = httpx.post(url, content=tampered, headers=declared)
    assert sent.status_code == 403
    assert sent.json()["message"] == "The provided 'x-amz-content-sha256' header does not match what was computed."
    # UNSIGNED-PAYLOAD: the signature covers the request but not the body, as AWS takes it.
    unsigned = _signed_headers(key, url, body, **{"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    answered = httpx.post(url, content=tampered, headers=unsigned)
    assert answered.status_code == 200, answered.text
    assert answered.json()["output"]["message"]["content"] == [{"text": 'You said: "Say goodbye."'}]


@pytest.mark.parametrize(("shift", "words"), [(-6, "Signature expired: "), (6, "Signature not yet current: ")])
def test_a_signature_more_than_five_minutes_off_is_refused(
    gateway: Gateway, signed: Client, monkeypatch: pytest.MonkeyPatch, shift: int, words: str
) -> None:
    key = gateway.key(aws=True)
    runtime = signed("bedrock-runtime", _credentials(key), gateway.url)
    skewed = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=shift)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: skewed)  # the signing client's clock is off
    with pytest.raises(ClientError) as refused:
        runtime.converse(modelId=HAIKU, messages=HELLO)
    status, code, message = _refusal(refused)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith(words + skewed.strftime("%Y%m%dT%H%M%SZ"))
    assert message.endswith(" 5 min.)")
    monkeypatch.setattr(
        "botocore.auth.get_current_datetime", lambda: datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=4)
    )
    assert runtime.converse(modelId=HAIKU, messages=HELLO)["output"]["message"]["content"] == [{"text": ANSWER}]


def test_rotated_removed_and_revoked_credentials_stop_working(gateway: Gateway, signed: Client) -> None:
    key = gateway.key(aws=True)
    first = _credentials(key)
    rotated = httpx.post(f"{gateway.url}/admin/keys/{key.id}/aws", headers=ADMIN_HEADERS)
    assert rotated.status_code == 201
    second = (rotated.json()["aws_access_key_id"], rotated.json()["aws_secret_access_key"])
    assert second[0] != first[0]
    shown = httpx.get(f"{gateway.url}/admin/keys/{key.id}", headers=ADMIN_HEADERS).json()
    assert shown["aws_access_key_id"] == second[0]
    assert "aws_secret_access_key" not in shown
    listed = httpx.get(f"{gateway.url}/admin/keys", headers=ADMIN_HEADERS).json()["data"]
    assert {k["id"]: k["aws_access_key_id"] for k in listed}[key.id] == second[0]

    def refused(credentials: tuple[str, str]) -> str:
        """The error code once the credentials are refused (lookups are trusted for key_cache_ttl_s)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                signed("bedrock", credentials, gateway.url).list_foundation_models()
            except ClientError as error:
                return str(error.response["Error"]["Code"])
            assert time.monotonic() < deadline, "the credentials are still taken"
            time.sleep(0.05)

    assert refused(first) == "UnrecognizedClientException"
    assert signed("bedrock", second, gateway.url).list_foundation_models()["modelSummaries"]
    # The bearer key goes on working without its AWS credentials, and vice versa until the key is revoked.
    removed = httpx.delete(f"{gateway.url}/admin/keys/{key.id}/aws", headers=ADMIN_HEADERS)
    assert removed.status_code == 200
    assert removed.json()["aws_access_key_id"] is None
    gone = httpx.delete(f"{gateway.url}/admin/keys/{key.id}/aws", headers=ADMIN_HEADERS)
    assert gone.status_code == 404
    assert refused(second) == "UnrecognizedClientException"
    third = httpx.post(f"{gateway.url}/admin/keys/{key.id}/aws", headers=ADMIN_HEADERS).json()
    credentials = (third["aws_access_key_id"], third["aws_secret_access_key"])
    assert signed("bedrock", credentials, gateway.url).list_foundation_models()["modelSummaries"]
    assert httpx.delete(f"{gateway.url}/admin/keys/{key.id}", headers=ADMIN_HEADERS).status_code == 200
    assert refused(credentials) == "UnrecognizedClientException"
    again = httpx.post(f"{gateway.url}/admin/keys/{key.id}/aws", headers=ADMIN_HEADERS)
    assert again.status_code == 400
    assert "revoked" in again.json()["error"]["message"]
