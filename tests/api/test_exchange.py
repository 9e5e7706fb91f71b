"""Every call leaves an Exchange: request id in and out, key, model, tokens and time to first token, whatever the
dialect and whether streamed or not, failures included."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from quarry.exchange import Exchange
from quarry.server import create_app
from quarry.settings import Settings
from tests.api.conftest import HAIKU, KEY
from tests.conftest import SDKs

Seen = list[Exchange]


@pytest.fixture(scope="module")
def observed(serve: Any, aws_environment: None) -> tuple[str, Seen]:
    seen: Seen = []
    app = create_app(Settings(backend="bedrock", api_key=KEY), listeners=[seen.append])  # type: ignore[arg-type]
    url: str = serve(app, lifespan="on").url
    return url, seen


def _last(seen: Seen, path: str) -> Exchange:
    deadline = time.monotonic() + 5  # the exchange closes just after the last byte is sent
    while time.monotonic() < deadline:
        matching = [e for e in seen if e.path == path]
        if matching:
            return matching[-1]
        time.sleep(0.01)
    raise AssertionError(f"no exchange for {path}")


def test_request_id_is_kept_or_made(observed: tuple[str, Seen]) -> None:
    url, seen = observed
    given = httpx.get(f"{url}/health", headers={"x-request-id": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    made = httpx.get(f"{url}/health", headers={"x-request-id": "bad id; " + "x" * 200})
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != "trace-123"
    assert _last(seen, "/health").request_id == made.headers["x-request-id"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_is_accounted(observed: tuple[str, Seen], stream: bool, sdk: SDKs) -> None:
    url, seen = observed
    seen.clear()
    client = sdk.openai(f"{url}/v1", KEY)
    messages: list[Any] = [{"role": "user", "content": "[[emulator: words=30]]"}]
    response = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=messages, stream=stream, stream_options={"include_usage": True} if stream else None
    )
    request_id = response.headers["x-request-id"]
    parsed = response.parse()
    usage = [chunk for chunk in parsed][-1].usage if stream else parsed.usage  # type: ignore[union-attr]
    assert usage is not None
    exchange = _last(seen, "/v1/chat/completions")
    assert exchange.request_id == request_id
    assert (exchange.api, exchange.key_id, exchange.model, exchange.stream) == (
        "chat.completions",
        "bootstrap",
        HAIKU,
        stream,
    )
    assert exchange.status == 200
    assert (exchange.input_tokens, exchange.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert (exchange.ttft_s is not None) == stream
    assert exchange.latency_s >= (exchange.ttft_s or 0)


@pytest.mark.parametrize("stream", [False, True])
def test_text_completions_are_accounted_with_every_prompts_tokens(observed: tuple[str, Seen], stream: bool) -> None:
    url, seen = observed
    seen.clear()
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
        prompts = ["[[emulator: words=30]]", "[[emulator: words=7]]"]
        response = client.completions.with_raw_response.create(
            model=HAIKU, prompt=prompts, stream=stream, stream_options={"include_usage": True} if stream else None
        )
        parsed = response.parse()
        usage = [chunk for chunk in parsed][-1].usage if stream else parsed.usage  # type: ignore[union-attr]
    assert usage is not None
    exchange = _last(seen, "/v1/completions")
    assert exchange.request_id == response.headers["x-request-id"]
    assert (exchange.api, exchange.model, exchange.stream, exchange.status) == ("completions", HAIKU, stream, 200)
    assert (exchange.input_tokens, exchange.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert exchange.output_tokens >= 37  # both prompts' answers
    assert (exchange.ttft_s is not None) == stream


@pytest.mark.parametrize("model", ["claude-3-haiku-20240307", "amazon.nova-lite-v1:0"])
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages_are_accounted(observed: tuple[str, Seen], model: str, stream: bool, sdk: SDKs) -> None:
    url, seen = observed
    seen.clear()
    client = sdk.anthropic(url, KEY)
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "[[emulator: words=12]]"}],
    }
    if stream:
        with client.messages.stream(**request) as events:
            usage = events.get_final_message().usage
    else:
        usage = client.messages.create(**request).usage
    exchange = _last(seen, "/v1/messages")
    assert (exchange.api, exchange.stream, exchange.status) == ("messages", stream, 200)
    assert (exchange.input_tokens, exchange.output_tokens) == (usage.input_tokens, usage.output_tokens)
    assert exchange.input_tokens > 0
    assert (exchange.ttft_s is not None) == stream


def test_failures_are_accounted(observed: tuple[str, Seen], sdk: SDKs) -> None:
    url, seen = observed
    seen.clear()
    client = sdk.openai(f"{url}/v1", KEY)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "[[emulator: throttle]]"}])
    exchange = _last(seen, "/v1/chat/completions")
    assert (exchange.status, exchange.error_type) == (429, "RateLimited")
    seen.clear()
    content = "[[emulator: words=50, stream-error-after=3]]"
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=HAIKU, stream=True, messages=[{"role": "user", "content": content}]))
    exchange = _last(seen, "/v1/chat/completions")
    assert (exchange.status, exchange.error_type) == (200, "UpstreamError")  # the stream had started
    seen.clear()
    httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer wrong"})
    exchange = _last(seen, "/v1/models")
    assert (exchange.status, exchange.error_type, exchange.key_id) == (401, "AuthenticationFailed", None)
