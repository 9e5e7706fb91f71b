"""Bedrock's service tiers on the emulator, as boto3 sends and reads them: Converse's `serviceTier` (request,
response, ConverseStream's metadata event), InvokeModel's `X-Amzn-Bedrock-Service-Tier` header both ways, the same
header on the Messages endpoint, and Bedrock's ValidationExceptions for a bad tier or a reservation it lacks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from quarry.emulator import EmulatorApp, EmulatorConfig
from tests.emulator.conftest import HAIKU, client, user

LLAMA3 = "meta.llama3-8b-instruct-v1:0"
OPUS_55 = "us.anthropic.claude-opus-5-5"
CLAUDE_BODY = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": [{"role": "user", "content": "Hi"}]}
)


@pytest.mark.parametrize("tier", ["priority", "default", "flex"])
def test_converse_reports_the_tier_asked(runtime: Any, tier: str) -> None:
    answer = runtime.converse(modelId=LLAMA3, messages=[user("Hello")], serviceTier={"type": tier})
    assert answer["serviceTier"] == {"type": tier}
    assert answer["output"]["message"]["content"][0]["text"]


def test_converse_without_a_tier_reports_none(runtime: Any) -> None:
    assert "serviceTier" not in runtime.converse(modelId=LLAMA3, messages=[user("Hello")])


def test_converse_stream_reports_the_tier_in_its_metadata(runtime: Any) -> None:
    streamed = runtime.converse_stream(modelId=LLAMA3, messages=[user("Hello")], serviceTier={"type": "flex"})
    events = list(streamed["stream"])
    assert [e["metadata"]["serviceTier"] for e in events if "metadata" in e] == [{"type": "flex"}]


def test_invoke_model_reports_the_tier_header(runtime: Any) -> None:
    answer = runtime.invoke_model(modelId=HAIKU, body=CLAUDE_BODY, serviceTier="flex")
    assert answer["serviceTier"] == "flex"
    assert json.loads(answer["body"].read())["content"][0]["text"]
    streamed = runtime.invoke_model_with_response_stream(modelId=HAIKU, body=CLAUDE_BODY, serviceTier="priority")
    assert streamed["serviceTier"] == "priority"
    assert list(streamed["body"])
    untiered = runtime.invoke_model(modelId=HAIKU, body=CLAUDE_BODY)
    assert "serviceTier" not in untiered
    assert json.loads(untiered["body"].read())["content"]


@pytest.mark.parametrize(
    ("tier", "message"),
    [("cheapest", "service tier provided is invalid"), ("reserved", "Reservation not found.")],
)
def test_bad_tiers_are_validation_exceptions(runtime: Any, tier: str, message: str) -> None:
    with pytest.raises(ClientError) as converse:
        runtime.converse(modelId=LLAMA3, messages=[user("Hello")], serviceTier={"type": tier})
    assert converse.value.response["Error"] == {"Code": "ValidationException", "Message": message}
    with pytest.raises(ClientError) as invoke:
        runtime.invoke_model(modelId=HAIKU, body=CLAUDE_BODY, serviceTier=tier)
    assert invoke.value.response["Error"] == {"Code": "ValidationException", "Message": message}


def test_messages_endpoint_takes_and_reports_the_tier_header(emulator_url: str) -> None:
    body = {"model": OPUS_55, "max_tokens": 32, "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"x-api-key": "bedrock-api-key-test", "anthropic-version": "2023-06-01"}
    tiered = httpx.post(
        f"{emulator_url}/anthropic/v1/messages", json=body, headers=headers | {"X-Amzn-Bedrock-Service-Tier": "flex"}
    )
    assert tiered.status_code == 200
    assert tiered.headers["x-amzn-bedrock-service-tier"] == "flex"
    assert tiered.json()["content"]
    refused = httpx.post(
        f"{emulator_url}/anthropic/v1/messages", json=body, headers=headers | {"X-Amzn-Bedrock-Service-Tier": "gold"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "service tier provided is invalid"


@pytest.fixture(scope="module")
def configured(serve: Callable[[Any], Any]) -> Iterator[Any]:
    """An emulator whose config says which tiers two models offer: Llama 3 only Flex, Haiku Flex and a reservation."""
    offered = {LLAMA3: ["flex"], HAIKU: ["flex", "reserved"]}
    runtime = client("bedrock-runtime", str(serve(EmulatorApp(EmulatorConfig(service_tiers=offered))).url))
    yield runtime
    runtime.close()


def test_a_tier_the_model_does_not_offer_is_refused(configured: Any) -> None:
    assert configured.converse(modelId=LLAMA3, messages=[user("Hi")], serviceTier={"type": "flex"})["serviceTier"]
    with pytest.raises(ClientError) as refused:
        configured.converse(modelId=LLAMA3, messages=[user("Hi")], serviceTier={"type": "priority"})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "priority" in refused.value.response["Error"]["Message"]
    # Every model has the standard tier.
    answer = configured.converse(modelId=LLAMA3, messages=[user("Hi")], serviceTier={"type": "default"})
    assert answer["serviceTier"] == {"type": "default"}


def test_a_reservation_in_the_config_is_served(configured: Any) -> None:
    answer = configured.invoke_model(modelId=HAIKU, body=CLAUDE_BODY, serviceTier="reserved")
    assert answer["serviceTier"] == "reserved"
    assert json.loads(answer["body"].read())["content"]
    with pytest.raises(ClientError) as refused:
        configured.converse(modelId=LLAMA3, messages=[user("Hi")], serviceTier={"type": "reserved"})
    assert refused.value.response["Error"]["Message"] == "Reservation not found."
