"""Every refusal on Bedrock's paths is in Bedrock's shape (status, `x-amzn-ErrorType`, `{"message"}`), so boto3
raises its own exception class with Quarry's message; Quarry's refusals never reach Bedrock."""

from __future__ import annotations

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.bedrock.conftest import HAIKU, HELLO, Client, Gateway


def test_a_model_outside_the_keys_scope_is_access_denied(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock-runtime", gateway.key(models=["amazon.*"]), gateway.url)
    before = gateway.calls()
    with pytest.raises(client.exceptions.AccessDeniedException) as raised:
        client.converse(modelId=HAIKU, messages=HELLO)
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.invoke_model_with_response_stream(modelId=HAIKU, body=b"{}")
    assert gateway.calls() == before
    error = raised.value.response
    assert error["Error"]["Message"] == f"This API key may not use the model `{HAIKU}`."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_key_over_its_limits_is_throttled(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock-runtime", gateway.key(rpm=1), gateway.url)
    client.converse(modelId=HAIKU, messages=HELLO)
    before = gateway.calls()
    with pytest.raises(client.exceptions.ThrottlingException) as raised:
        client.converse(modelId=HAIKU, messages=HELLO)
    assert gateway.calls() == before
    error = raised.value.response
    assert "1 requests per minute" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert int(error["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1


def test_an_unknown_model_is_a_validation_error(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock-runtime", gateway.key(), gateway.url)
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.converse(modelId="anthropic.claude-nonesuch-v1:0", messages=HELLO)
    assert "anthropic.claude-nonesuch-v1:0" in raised.value.response["Error"]["Message"]


def test_bedrocks_own_validation_error_is_passed_through(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock-runtime", gateway.key(), gateway.url)
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.converse(modelId=HAIKU, messages=[{"role": "assistant", "content": [{"text": "Hi."}]}])
    assert raised.value.response["Error"]["Message"]  # the emulator's own sentence, as Bedrock would give it


def test_an_unknown_inference_profile_is_resource_not_found(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock", gateway.key(), gateway.url)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.get_inference_profile(inferenceProfileIdentifier="us.anthropic.claude-nonesuch-v1:0")
    assert raised.value.response["Error"]["Message"]


def test_a_wrong_key_is_refused(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock-runtime", "sk-not-a-quarry-key", gateway.url)
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=HAIKU, messages=HELLO)
    error = raised.value.response
    assert error["Error"]["Code"] == "UnrecognizedClientException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/bedrock/v1/models"), ("POST", "/model/x/chat"), ("GET", "/model/x/converse"), ("PUT", "/bedrock")],
)
def test_an_unknown_path_is_a_404_in_bedrocks_shape(gateway: Gateway, method: str, path: str) -> None:
    response = httpx.request(method, gateway.url + path, headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 404
    assert response.headers["x-amzn-errortype"].split(":")[0] == "UnknownOperationException"
    assert response.json() == {"message": f"No operation matches {method} {path.removeprefix('/bedrock') or '/'}."}


def test_a_refused_host_is_refused_in_bedrocks_shape(gateway: Gateway) -> None:
    """The DNS-rebinding guard answers before routing; on Bedrock's paths it answers as Bedrock would."""
    response = httpx.post(
        f"{gateway.url}/model/{HAIKU}/converse", json={"messages": HELLO}, headers={"Host": "rebound.example"}
    )
    assert response.status_code in (400, 403, 421), response.text
    assert response.headers["x-amzn-errortype"].endswith("/")
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize("query", ["type=EVERYTHING", "maxResults=many"])
def test_a_bad_listing_query_is_a_validation_error(gateway: Gateway, query: str) -> None:
    key = gateway.key()
    response = httpx.get(f"{gateway.url}/inference-profiles?{query}", headers={"Authorization": f"Bearer {key.secret}"})
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-errortype"].split(":")[0] == "ValidationException"
    assert response.json()["message"]
