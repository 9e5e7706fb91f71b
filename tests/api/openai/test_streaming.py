"""Streamed chat completions: chunk shape, usage, keep-alives, mid-stream errors, cancellation on disconnect."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import orjson
import pytest

from tests.api.conftest import HAIKU, KEY, Emulator


def _sse_lines(gateway: str, body: dict[str, object]) -> list[str]:
    with httpx.stream(
        "POST", f"{gateway}/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, json=body, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line for line in response.iter_lines() if line]


def test_stream_matches_the_whole_answer(client: openai.OpenAI) -> None:
    messages: list[dict[str, str]] = [{"role": "user", "content": "[[emulator: words=60]] stream this"}]
    whole = client.chat.completions.create(model=HAIKU, messages=messages)  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(model=HAIKU, messages=messages, stream=True))  # type: ignore[arg-type]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].object == "chat.completion.chunk"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert len(chunks) > 20, "the answer arrives in many deltas"
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]
    assert all(c.usage is None for c in chunks)


def test_usage_chunk_with_include_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model=HAIKU,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_wire_format_ends_with_done(gateway: str) -> None:
    lines = _sse_lines(gateway, {"model": HAIKU, "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
    assert lines[-1] == "data: [DONE]"
    first = orjson.loads(lines[0].removeprefix("data: "))
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    finish = orjson.loads(lines[-2].removeprefix("data: "))
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def test_keep_alive_comments_fill_silences(gateway: str) -> None:
    # The gateway under test sends a keep-alive every 0.2 s; the emulator stays silent for 0.9 s first.
    lines = _sse_lines(
        gateway,
        {"model": HAIKU, "stream": True, "messages": [{"role": "user", "content": "[[emulator: delay=900]] Hi"}]},
    )
    keepalives = [line for line in lines if line.startswith(":")]
    assert len(keepalives) >= 2
    assert lines[-1] == "data: [DONE]"


def test_error_in_the_middle_of_a_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=HAIKU,
        stream=True,
        messages=[
            {
                "role": "user",
                "content": "[[emulator: words=50, stream-error-after=5, stream-error=modelStreamErrorException]]",
            }
        ],
    )
    received: list[object] = []
    with pytest.raises(openai.APIError) as caught:
        received.extend(stream)
    assert received, "chunks before the failure are delivered"
    assert caught.value.body["type"] == "upstream_error"  # type: ignore[index]
    assert caught.value.message


def test_mid_stream_error_wire_format(gateway: str) -> None:
    lines = _sse_lines(
        gateway,
        {
            "model": HAIKU,
            "stream": True,
            "messages": [
                {
                    "role": "user",
                    "content": "[[emulator: words=50, stream-error-after=3, stream-error=throttlingException]]",
                }
            ],
        },
    )
    error = orjson.loads(lines[-1].removeprefix("data: "))
    assert error["error"]["type"] == "rate_limit_error"
    assert "data: [DONE]" not in lines


def test_errors_before_the_stream_starts_are_http_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model=HAIKU, stream=True, messages=[{"role": "user", "content": "[[emulator: throttle]] Hi"}]
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"]


async def test_client_disconnect_cancels_the_upstream_stream(
    async_client: openai.AsyncOpenAI, emulator: Emulator
) -> None:
    before = emulator.app.streams.abandoned
    stream = await async_client.chat.completions.create(
        model=HAIKU, stream=True, messages=[{"role": "user", "content": "[[emulator: words=100000, tps=200]] long"}]
    )
    async for _chunk in stream:
        break
    await stream.close()
    deadline = time.monotonic() + 5
    while emulator.app.streams.abandoned == before and time.monotonic() < deadline:  # noqa: ASYNC110  # polls another thread's counter
        await asyncio.sleep(0.02)
    assert emulator.app.streams.abandoned == before + 1, "the emulator saw the upstream request end"
