"""Streamed messages: Anthropic's SSE event sequence, exactly, on both paths; pings; errors mid-stream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from tests.api.anthropic.test_messages import WEATHER
from tests.api.conftest import KEY, Emulator

HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


def _events(gateway: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) for each SSE event, read off the wire."""
    events = []
    with httpx.stream("POST", f"{gateway}/v1/messages", headers=HEADERS, json=body | {"stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for raw in response.read().decode().split("\n\n"):
            if not raw.strip() or raw.startswith(":"):
                continue
            lines = dict(line.split(": ", 1) for line in raw.splitlines())
            data = json.loads(lines["data"])
            assert data["type"] == lines["event"]  # the event name always matches the data's type
            events.append((lines["event"], data))
    return events


def _shape(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The sequence with runs of deltas folded, e.g. [message_start, ping, content_block_start, delta*, …]."""
    shape: list[str] = []
    for name, _ in events:
        if not (name == "content_block_delta" and shape and shape[-1] == "content_block_delta*"):
            shape.append("content_block_delta*" if name == "content_block_delta" else name)
    return shape


TEXT_SEQUENCE = [
    "message_start",
    "ping",
    "content_block_start",
    "content_block_delta*",
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@pytest.mark.parametrize(
    "model", ["claude-3-haiku-20240307", "amazon.nova-lite-v1:0", "mistral.mistral-7b-instruct-v0:2"]
)
def test_text_stream_event_sequence(gateway: str, model: str) -> None:
    body = {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": "[[emulator: words=20]] hi"}]}
    events = _events(gateway, body)
    assert _shape(events) == TEXT_SEQUENCE
    start = events[0][1]["message"]
    assert start["role"] == "assistant"
    assert start["content"] == []
    assert start["stop_reason"] is None
    block = events[2][1]
    assert block == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert len(text.split()) == 20
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] > 0
    assert events[-1][1] == {"type": "message_stop"}  # nothing of Bedrock's invocation metrics


def test_sdk_stream_matches_the_whole_answer(claude: anthropic.Anthropic) -> None:
    request: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "[[emulator: words=40]] tell me"}],
    }
    whole = claude.messages.create(**request)
    with claude.messages.stream(**request) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 5
    assert "".join(pieces) == whole.content[0].text  # type: ignore[union-attr]
    assert final.usage.input_tokens == whole.usage.input_tokens
    assert final.usage.output_tokens == whole.usage.output_tokens


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "amazon.nova-pro-v1:0"])
def test_sdk_stream_with_tool_use(claude: anthropic.Anthropic, model: str) -> None:
    with claude.messages.stream(
        model=model,
        max_tokens=300,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Use get_weather for Lima"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = next(block for block in final.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    assert isinstance(call.input["city"], str)  # assembled from input_json_delta fragments


def test_converse_stream_usage_arrives_in_message_delta(gateway: str) -> None:
    body = {"model": "amazon.nova-lite-v1:0", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    usage = _events(gateway, body)[-2][1]["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0


def test_thinking_streams_with_its_signature(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think, then answer."}],
    ) as stream:
        final = stream.get_final_message()
    thinking = final.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking
    assert thinking.signature
    assert final.content[-1].type == "text"


def test_pings_fill_silences(gateway: str) -> None:
    body = {
        "model": "claude-3-haiku-20240307",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "[[emulator: delay=900]] Hi"}],
    }
    events = _events(gateway, body)
    assert sum(1 for name, _ in events if name == "ping") >= 3  # one after message_start, more in the silence
    assert events[-1][0] == "message_stop"


@pytest.mark.parametrize("model", ["claude-3-haiku-20240307", "amazon.nova-lite-v1:0"])
def test_error_in_the_middle_of_a_stream(claude: anthropic.Anthropic, model: str) -> None:
    content = "[[emulator: words=50, stream-error-after=5, stream-error=modelStreamErrorException]]"
    received = []
    messages: list[Any] = [{"role": "user", "content": content}]
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude.messages.stream(model=model, max_tokens=200, messages=messages) as stream,
    ):
        received.extend(stream.text_stream)
    assert received  # text came before the failure
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_mid_stream_error_wire_format(gateway: str) -> None:
    content = "[[emulator: words=50, stream-error-after=3, stream-error=throttlingException]]"
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 200, "messages": [{"role": "user", "content": content}]}
    name, data = _events(gateway, body)[-1]
    assert name == "error"
    assert data["error"]["type"] == "rate_limit_error"
    assert "throttl" in data["error"]["message"].lower()


def test_errors_before_the_stream_starts_are_http_errors(claude: anthropic.Anthropic) -> None:
    messages: list[Any] = [{"role": "user", "content": "[[emulator: throttle]]"}]
    with (
        pytest.raises(anthropic.RateLimitError) as caught,
        claude.messages.stream(model="claude-3-haiku-20240307", max_tokens=50, messages=messages) as stream,
    ):
        stream.get_final_message()
    assert int(caught.value.response.headers["retry-after"]) >= 1


async def test_client_disconnect_cancels_the_upstream_stream(
    async_claude: anthropic.AsyncAnthropic, emulator: Emulator
) -> None:
    before = emulator.app.streams.abandoned
    async with async_claude.messages.stream(
        model="claude-3-haiku-20240307",
        max_tokens=4096,
        messages=[{"role": "user", "content": "[[emulator: words=100000, tps=200]] long"}],
    ) as stream:
        async for _ in stream.text_stream:
            break
    deadline = time.monotonic() + 5
    while emulator.app.streams.abandoned == before and time.monotonic() < deadline:  # noqa: ASYNC110  # polls another thread's counter
        await asyncio.sleep(0.02)
    assert emulator.app.streams.abandoned == before + 1, "the emulator saw the upstream request end"
