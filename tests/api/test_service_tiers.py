"""Bedrock's service tiers through the gateway in every dialect, over the in-process emulator: OpenAI's
`service_tier` (chat and Responses, whole and streamed), Anthropic's (`standard_only`, `auto`) on the Converse,
InvokeModel and Messages-endpoint paths, Bedrock's own `serviceTier` and tier header through boto3; a bad value is a
400 in each dialect's envelope; each call is charged and recorded at the tier that served it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from quarry.cli.keys import usage
from quarry.server import create_app
from quarry.settings import EmulatorSettings, ModelSettings, Settings, SpendSettings, UISettings
from tests.conftest import SDKs, bedrock_with_key

KEY = "sk-tiers-admin"
LLAMA3 = "meta.llama3-8b-instruct-v1:0"  # Converse for every dialect
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # Claude on InvokeModel
OPUS_55 = "claude-opus-5-5"  # Claude on Bedrock's Messages endpoint
MISTRAL = "mistral.mistral-7b-instruct-v0:2"  # offers Flex and a reservation, no Priority (the emulator's config)
CHEAP = "cheap-llama"  # an alias the operator sends to the Flex tier
# Aliases the operator sends to the Reserved tier, which the emulator has no reservation for: its refusal shows that
# the tier reached Bedrock (InvokeModel's header, and the same header on the Messages endpoint).
RESERVED = {"reserved-haiku": HAIKU, "reserved-opus": "us.anthropic.claude-opus-5-5"}
# USD per million tokens, and the tiers' multipliers, from the operator's prices file.
INPUT, OUTPUT = 1.0, 2.0
MULTIPLIERS = {"priority": 2.0, "flex": 0.5}
HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiers")


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    prices = data_dir / "prices.json"
    llama = {"input": INPUT, "output": OUTPUT, "verified": False}
    prices.write_text(json.dumps({"service_tiers": MULTIPLIERS, "models": {LLAMA3: llama}}))
    settings = Settings(
        backend="emulator",
        api_key=KEY,  # type: ignore[arg-type]
        keepalive_s=0.2,
        data_dir=data_dir,
        ui=UISettings(enabled=False),  # not under test here
        emulator=EmulatorSettings(service_tiers={MISTRAL: ["flex", "reserved"]}),
        spend=SpendSettings(prices_file=prices),
        models=ModelSettings(
            aliases={CHEAP: LLAMA3, "mistral-priority": MISTRAL, **RESERVED},
            service_tiers={CHEAP: "flex", "reserved-*": "reserved", "mistral-priority": "priority"},
        ),
    )
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def llama_cost(input_tokens: int, output_tokens: int, tier: str | None) -> str:
    factor = MULTIPLIERS.get(tier or "default", 1.0)
    return f"{(input_tokens * INPUT + output_tokens * OUTPUT) / 1_000_000 * factor:.6f}"


# OpenAI


def charged_at(client: openai.OpenAI, model: str, asked: str, served: str) -> None:
    """A chat answer names the tier that `served` it, and its cost header is the tokens' price at that tier."""
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO, service_tier=asked)  # type: ignore[arg-type]
    completion = raw.parse()
    assert completion.service_tier == served
    assert completion.usage is not None
    expected = llama_cost(completion.usage.prompt_tokens, completion.usage.completion_tokens, served)
    assert raw.headers["x-quarry-cost-usd"] == expected


def test_openai_chat_flex_is_served_echoed_and_charged_at_flex(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    charged_at(client, LLAMA3, "flex", "flex")
    assert llama_cost(10, 10, "flex") != llama_cost(10, 10, None)  # the tiers' prices do differ


def test_openai_chat_without_a_tier_is_the_default_and_charged_the_list_price(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    raw = client.chat.completions.with_raw_response.create(model=LLAMA3, messages=HELLO)
    completion = raw.parse()
    assert completion.service_tier == "default"
    assert completion.usage is not None
    cost = llama_cost(completion.usage.prompt_tokens, completion.usage.completion_tokens, None)
    assert raw.headers["x-quarry-cost-usd"] == cost


def test_admission_prices_the_call_at_the_tier_asked(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    most = {
        tier: float(
            client.chat.completions.with_raw_response.create(
                model=LLAMA3, messages=HELLO, max_tokens=100, service_tier=tier
            ).headers["x-quarry-cost-max-usd"]
        )
        for tier in ("default", "flex", "priority")
    }
    assert most["flex"] == pytest.approx(most["default"] * MULTIPLIERS["flex"], abs=2e-6)
    assert most["priority"] == pytest.approx(most["default"] * MULTIPLIERS["priority"], abs=2e-6)


def test_openai_stream_names_the_tier_in_every_chunk(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    chunks = list(
        client.chat.completions.create(
            model=LLAMA3,
            messages=HELLO,
            service_tier="fast",  # OpenAI's other name for priority
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert len(chunks) > 2
    assert {chunk.service_tier for chunk in chunks} == {"priority"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_openai_auto_takes_the_operators_tier_for_the_model(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    charged_at(client, CHEAP, "auto", "flex")
    # A tier the caller names wins over the operator's.
    assert client.chat.completions.create(model=CHEAP, messages=HELLO, service_tier="default").service_tier == "default"


def test_openai_unknown_tier_is_a_400_naming_the_parameter(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=LLAMA3, messages=HELLO, service_tier="turbo")  # type: ignore[arg-type]
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert "service_tier" in (error.get("param") or "") + error["message"]


def test_openai_scale_is_bedrocks_reserved_tier_whose_refusal_is_passed_on(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=LLAMA3, messages=HELLO, service_tier="scale")
    assert "Reservation not found" in str(refused.value)


def test_openai_scale_is_served_where_bedrock_has_a_reservation(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    assert client.chat.completions.create(model=MISTRAL, messages=HELLO, service_tier="scale").service_tier == "scale"


def test_a_tier_the_model_lacks_is_bedrocks_400_in_each_dialect(sdk: SDKs, gateway: str) -> None:
    with pytest.raises(openai.BadRequestError) as chat:
        sdk.openai(f"{gateway}/v1", KEY).chat.completions.create(model=MISTRAL, messages=HELLO, service_tier="priority")
    assert "does not support the priority service tier" in str(chat.value)
    with pytest.raises(openai.BadRequestError) as responses:
        sdk.openai(f"{gateway}/v1", KEY).responses.create(model=MISTRAL, input="Hi", service_tier="priority")
    assert "does not support the priority service tier" in str(responses.value)
    with pytest.raises(anthropic.BadRequestError) as messages:
        sdk.anthropic(gateway, KEY).messages.create(model="mistral-priority", max_tokens=32, messages=HELLO)
    assert messages.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "does not support the priority service tier" in messages.value.body["error"]["message"]  # type: ignore[index]


def test_responses_flex_whole_and_streamed(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    response = client.responses.create(model=LLAMA3, input="Hello there", service_tier="flex", store=False)
    assert response.service_tier == "flex"
    assert response.output_text
    events = list(client.responses.create(model=LLAMA3, input="Hello", service_tier="priority", stream=True))
    completed = [e.response for e in events if e.type == "response.completed"]
    assert [response.service_tier for response in completed] == ["priority"]
    fastest = client.responses.create(model=LLAMA3, input="Hello", service_tier="ultrafast", store=False)
    assert fastest.service_tier == "priority"  # Bedrock's fastest tier, in the name OpenAI answers with


def test_a_background_response_is_charged_at_its_tier(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    queued = client.responses.create(model=LLAMA3, input="Hello", service_tier="flex", background=True)
    deadline = time.monotonic() + 20
    while (done := client.responses.retrieve(queued.id)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, done.status
        time.sleep(0.05)
    assert (done.status, done.service_tier) == ("completed", "flex")
    admin = {"Authorization": f"Bearer {KEY}"}
    # The work's usage row is written as it ends, a moment after the stored response says completed.
    while not (
        rows := [
            row
            for row in httpx.get(f"{gateway}/admin/usage?by=api", headers=admin).json()["data"]
            if row["api"] == "responses.background"
        ]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    background = rows[0]
    assert done.usage is not None
    assert background["cost_usd"] == pytest.approx(
        float(llama_cost(done.usage.input_tokens, done.usage.output_tokens, "flex")), abs=2e-6
    )


def test_responses_unknown_tier_is_a_400(sdk: SDKs, gateway: str) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=LLAMA3, input="Hi", service_tier="cheapest")  # type: ignore[arg-type]
    assert "service_tier" in str(refused.value)


# Anthropic


@pytest.mark.parametrize("model", [LLAMA3, HAIKU, OPUS_55], ids=["converse", "invoke", "messages-endpoint"])
def test_anthropic_standard_only_is_the_standard_tier(sdk: SDKs, gateway: str, model: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    message = client.messages.create(model=model, max_tokens=64, messages=HELLO, service_tier="standard_only")
    assert message.content
    assert message.usage.service_tier == "standard"


@pytest.mark.parametrize("model", [LLAMA3, HAIKU, OPUS_55], ids=["converse", "invoke", "messages-endpoint"])
def test_anthropic_stream_names_the_tier_in_message_start(sdk: SDKs, gateway: str, model: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    with client.messages.stream(model=model, max_tokens=64, messages=HELLO, service_tier="standard_only") as stream:
        events = list(stream)
    starts = [e for e in events if e.type == "message_start"]
    assert starts[0].message.usage.service_tier == "standard"
    assert any(e.type == "content_block_delta" for e in events)


def test_anthropic_auto_takes_the_operators_tier_and_is_charged_at_it(sdk: SDKs, gateway: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    raw = client.messages.with_raw_response.create(model=CHEAP, max_tokens=64, messages=HELLO, service_tier="auto")
    message = raw.parse()
    assert message.usage.service_tier == "flex"  # Bedrock's Flex, which Anthropic has no name of its own for
    assert raw.headers["x-quarry-cost-usd"] == llama_cost(
        message.usage.input_tokens, message.usage.output_tokens, "flex"
    )


@pytest.mark.parametrize("model", list(RESERVED))
def test_anthropic_claude_paths_send_the_tier_to_bedrock(sdk: SDKs, gateway: str, model: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=model, max_tokens=64, messages=HELLO)
    assert "Reservation not found." in str(refused.value)
    # Asking for the standard tier leaves the operator's out.
    message = client.messages.create(model=model, max_tokens=64, messages=HELLO, service_tier="standard_only")
    assert message.usage.service_tier == "standard"


def test_anthropic_unknown_tier_is_a_400_in_anthropics_envelope(sdk: SDKs, gateway: str) -> None:
    client = sdk.anthropic(gateway, KEY)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=LLAMA3, max_tokens=64, messages=HELLO, service_tier="priority")  # type: ignore[arg-type]
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "service_tier" in body["error"]["message"]


# Bedrock's own routes


@pytest.fixture
def bedrock_runtime(gateway: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """boto3's bedrock-runtime on Quarry with only a Quarry key (AWS_BEARER_TOKEN_BEDROCK)."""
    client = bedrock_with_key(gateway, KEY, monkeypatch, tmp_path)
    yield client
    client.close()


CONVERSATION = [{"role": "user", "content": [{"text": "Hello there"}]}]


def test_bedrock_converse_passes_the_tier_through(bedrock_runtime: Any) -> None:
    answer = bedrock_runtime.converse(modelId=LLAMA3, messages=CONVERSATION, serviceTier={"type": "flex"})
    assert answer["serviceTier"] == {"type": "flex"}
    assert answer["output"]["message"]["content"][0]["text"]
    streamed = bedrock_runtime.converse_stream(modelId=LLAMA3, messages=CONVERSATION, serviceTier={"type": "priority"})
    metadata = [event["metadata"] for event in streamed["stream"] if "metadata" in event]
    assert metadata[0]["serviceTier"] == {"type": "priority"}


def test_bedrock_converse_gets_the_operators_tier_when_it_names_none(bedrock_runtime: Any) -> None:
    answer = bedrock_runtime.converse(modelId=CHEAP, messages=CONVERSATION)
    assert answer["serviceTier"] == {"type": "flex"}


def test_bedrock_invoke_model_passes_the_tier_header_through(bedrock_runtime: Any) -> None:
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": HELLO})
    answer = bedrock_runtime.invoke_model(modelId=HAIKU, body=body, serviceTier="priority")
    assert answer["serviceTier"] == "priority"
    assert json.loads(answer["body"].read())["content"]
    streamed = bedrock_runtime.invoke_model_with_response_stream(modelId=HAIKU, body=body, serviceTier="flex")
    assert streamed["serviceTier"] == "flex"
    assert list(streamed["body"])


def test_bedrock_bad_tiers_are_bedrocks_validation_errors(bedrock_runtime: Any) -> None:
    with pytest.raises(ClientError) as invalid:
        bedrock_runtime.converse(modelId=LLAMA3, messages=CONVERSATION, serviceTier={"type": "cheapest"})
    assert invalid.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "service tier provided is invalid",
    }
    with pytest.raises(ClientError) as unreserved:
        bedrock_runtime.converse(modelId=LLAMA3, messages=CONVERSATION, serviceTier={"type": "reserved"})
    assert unreserved.value.response["Error"]["Message"] == "Reservation not found."


@pytest.mark.parametrize("stream", [False, True])
def test_bedrock_messages_endpoint_passes_the_tier_header_through(gateway: str, stream: bool) -> None:
    body = {"model": "us.anthropic.claude-opus-5-5", "max_tokens": 32, "messages": HELLO, "stream": stream}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    url = f"{gateway}/anthropic/v1/messages"
    tiered = httpx.post(url, json=body, headers=headers | {"X-Amzn-Bedrock-Service-Tier": "flex"})
    assert tiered.status_code == 200, tiered.text
    assert tiered.headers["x-amzn-bedrock-service-tier"] == "flex"
    assert "content_block_delta" in tiered.text if stream else tiered.json()["content"]
    # The operator's tier where the caller names none (the emulator has no reservation: Bedrock's refusal shows it).
    refused = httpx.post(url, json=body | {"model": "reserved-opus"}, headers=headers)
    assert refused.status_code == 400
    assert "Reservation not found." in refused.text


# Usage


def test_usage_records_the_tier_that_served_each_call(sdk: SDKs, gateway: str, data_dir: Path) -> None:
    client = sdk.openai(f"{gateway}/v1", KEY)
    flex = client.chat.completions.create(model=LLAMA3, messages=HELLO, service_tier="flex")
    priority = client.chat.completions.create(model=LLAMA3, messages=HELLO, service_tier="priority")
    assert (flex.service_tier, priority.service_tier) == ("flex", "priority")
    rows = httpx.get(f"{gateway}/admin/usage?by=tier", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    by_tier = {row["tier"]: row for row in rows}
    assert {"flex", "priority", "default"} <= set(by_tier)
    assert all(row["cost_usd"] > 0 for tier, row in by_tier.items() if tier in ("flex", "priority"))
    # `quarry usage --by tier` reads the same rows (the admin API flushed them).
    printed = CliRunner().invoke(usage, ["--by", "tier"], env={"QUARRY_DATA_DIR": str(data_dir)})
    assert printed.exit_code == 0, printed.output
    assert {line.split()[0] for line in printed.output.splitlines()[1:]} >= {"flex", "priority", "default"}
    bad = httpx.get(f"{gateway}/admin/usage?by=colour", headers={"Authorization": f"Bearer {KEY}"})
    assert bad.status_code == 400
    assert "tier" in bad.json()["error"]["message"]
