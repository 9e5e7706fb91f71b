"""`POST /v1/messages` with the official `anthropic` SDK: Claude through InvokeModel, other models through
Converse, model names as Anthropic users write them."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import httpx
import pytest

from tests.api.conftest import KEY, SONNET_45, png

WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()


def _text(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def test_create_with_claude(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-3-haiku-20240307",
        max_tokens=200,
        system="You are terse.",
        messages=[{"role": "user", "content": "[[emulator: reply=Hello from Bedrock]] Hi"}],
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-3-haiku-20240307"
    assert _text(message) == "Hello from Bedrock"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


@pytest.mark.parametrize(
    "name",
    [
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "claude-3-5-sonnet-20240620",
        "claude-3-5-sonnet-latest",
        "claude-3-5-sonnet",
        "claude-opus-4-6",
        SONNET_45,
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "smart",  # an alias from the configuration
    ],
)
def test_model_names(claude: anthropic.Anthropic, name: str) -> None:
    message = claude.messages.create(model=name, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    # The name the caller sent, whatever Bedrock calls the model: Claude Code drops the earlier thinking blocks
    # when the answer names another model, and the next turn is refused.
    assert message.model == name


def test_arn_works_as_given(claude: anthropic.Anthropic) -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    message = claude.messages.create(model=arn, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    assert message.model == arn


def test_max_tokens_and_stop_sequences(claude: anthropic.Anthropic) -> None:
    cut = claude.messages.create(
        model="claude-3-haiku-20240307",
        max_tokens=3,
        messages=[{"role": "user", "content": "[[emulator: words=40]] go"}],
    )
    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens == 3
    stopped = claude.messages.create(
        model="claude-3-haiku-20240307",
        max_tokens=100,
        stop_sequences=["STOP"],
        messages=[{"role": "user", "content": "[[emulator: reply=one two STOP three]]"}],
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == "STOP"
    assert _text(stopped).strip() == "one two"


def test_images_base64_and_url_and_pdf_documents(claude: anthropic.Anthropic, image_server: str) -> None:
    image = base64.b64encode(png(3, 3)).decode()
    message = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=300,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
                    {"type": "image", "source": {"type": "url", "url": f"{image_server}/cat.png"}},
                    {
                        "type": "document",
                        "title": "Shareholder letter",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                    },
                    {"type": "text", "text": "What do you see?"},
                ],
            }
        ],
    )
    text = _text(message)
    assert "2 images" in text
    assert "1 document" in text


def test_image_url_behind_the_ssrf_guard_is_refused(claude: anthropic.Anthropic, image_server: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=50,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "url", "url": f"{image_server}/redirect"}}],
                }
            ],
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_fields_bedrock_refuses_are_dropped_or_mapped(gateway: str) -> None:
    response = httpx.post(
        f"{gateway}/v1/messages?beta=true",
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219"},
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hi"}],
            "metadata": {"user_id": "user-1"},
            "service_tier": "auto",
            "container": None,
            "stream": False,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"


def test_hosted_tools_are_refused_clearly(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=50,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            messages=[{"role": "user", "content": "Search the web"}],
        )
    assert "not available on Amazon Bedrock" in caught.value.body["error"]["message"]  # type: ignore[index]


def test_tool_use_and_tool_result_round_trip_with_claude(claude: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "Use get_weather for Paris"}
    first = claude.messages.create(model="claude-sonnet-4-5", max_tokens=300, tools=[WEATHER], messages=[question])
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    assert "city" in call.input
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "18°C and sunny"}
    second = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=300,
        tools=[WEATHER],
        messages=[question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}],
    )
    assert second.stop_reason == "end_turn"
    assert "18°C and sunny" in _text(second)


@pytest.mark.parametrize("model", ["amazon.nova-pro-v1:0", "meta.llama3-1-70b-instruct-v1:0"])
def test_tool_use_round_trip_through_converse(claude: anthropic.Anthropic, model: str) -> None:
    question = {"role": "user", "content": "Use get_weather for Oslo"}
    first = claude.messages.create(model=model, max_tokens=300, tools=[WEATHER], messages=[question])
    assert first.model == model
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.id
    assert call.name == "get_weather"
    result = {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "-3°C, snow"}]}
    second = claude.messages.create(
        model=model,
        max_tokens=300,
        tools=[WEATHER],
        messages=[question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}],
    )
    assert "-3°C, snow" in _text(second)


def test_converse_models_take_system_images_documents_and_settings(claude: anthropic.Anthropic) -> None:
    image = base64.b64encode(png(2, 2)).decode()
    message = claude.messages.create(
        model="amazon.nova-pro-v1:0",
        max_tokens=300,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},  # sampling left this SDK's signature
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Notes."}},
                    {"type": "text", "text": "Describe these."},
                ],
            }
        ],
    )
    assert message.model == "amazon.nova-pro-v1:0"
    assert message.id.startswith("msg_")
    assert "1 image" in _text(message)
    assert "1 document" in _text(message)
    assert message.usage.input_tokens > 0


def test_converse_stop_sequence_and_max_tokens(claude: anthropic.Anthropic) -> None:
    stopped = claude.messages.create(
        model="mistral.mistral-7b-instruct-v0:2",
        max_tokens=100,
        stop_sequences=["END"],
        system="Models without system prompts get it in the first turn.",
        messages=[{"role": "user", "content": "[[emulator: reply=alpha beta END gamma]]"}],
    )
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "END")
    assert _text(stopped).strip() == "alpha beta"
    cut = claude.messages.create(
        model="meta.llama3-8b-instruct-v1:0",
        max_tokens=2,
        messages=[{"role": "user", "content": "[[emulator: words=30]]"}],
    )
    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens == 2


def test_thinking_through_converse_on_a_model_that_reasons(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="amazon.nova-2-lite-v1:0",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "Think first."}],
    )
    assert message.content[-1].type == "text"


def test_models_list_in_anthropic_shape(claude: anthropic.Anthropic) -> None:
    ids = [model.id for model in claude.models.list()]
    assert SONNET_45 in ids
    model = claude.models.retrieve(SONNET_45)
    assert model.type == "model"
    assert model.id == SONNET_45


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "amazon.nova-pro-v1:0"])
def test_image_urls_inside_tool_results(claude: anthropic.Anthropic, image_server: str, model: str) -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
    image = {"type": "image", "source": {"type": "url", "url": f"{image_server}/cat.png"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "radar"}, image]}
    message = claude.messages.create(
        model=model,
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "Use get_weather for Oslo"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result]},
        ],
    )
    assert "radar" in _text(message)  # Bedrock takes base64 only: the URL was fetched and inlined


def test_malformed_nested_blocks_are_400_not_500(gateway: str) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": ["not a block"]}
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    body = {
        "model": "amazon.nova-pro-v1:0",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result]},
        ],
    }
    response = httpx.post(f"{gateway}/v1/messages", headers={"x-api-key": KEY}, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages.2.content.0.content.0")


def test_converse_models_refuse_a_tool_choice_naming_no_tool(claude: anthropic.Anthropic) -> None:
    # The same rule as the OpenAI dialect's: a clear 400 naming the choice, not Bedrock's refusal.
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(
            model="amazon.nova-pro-v1:0",
            max_tokens=50,
            tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_time"},
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
        )
    assert "`get_time`, which is not among the tools" in caught.value.message


def test_converse_models_take_a_tool_without_an_input_schema(claude: anthropic.Anthropic) -> None:
    # Bedrock requires a schema for every tool; a tool without parameters gets the empty object schema.
    message = claude.messages.create(
        model="amazon.nova-pro-v1:0",
        max_tokens=100,
        tools=[{"name": "now", "description": "The current time."}],  # type: ignore[typeddict-item]
        tool_choice={"type": "tool", "name": "now"},
        messages=[{"role": "user", "content": "What time is it?"}],
    )
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content][-1] == "tool_use"
