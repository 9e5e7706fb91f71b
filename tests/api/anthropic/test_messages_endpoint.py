"""Claude 4.7 and later through Bedrock's Messages endpoint (`/anthropic/v1/messages`): the caller's request forwarded
as written with its `anthropic-version` and `anthropic-beta`, Bedrock's errors relayed as they came, usage read from
the stream, the model echoed as asked; older models on InvokeModel and Converse, echoing too, with mid-conversation
system messages carried in the form they take. With the newest anthropic SDK (API version 2026-10-21 by default)."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import pytest

from quarry.exchange import Exchange
from quarry.server import create_app
from quarry.settings import Settings
from tests.api.conftest import KEY, Emulator

Seen = list[Exchange]
OPUS_55 = "claude-opus-5-5"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def observed(serve: Any, aws_environment: None) -> tuple[str, Seen]:
    seen: Seen = []
    app = create_app(Settings(backend="bedrock", api_key=KEY, keepalive_s=0.2), listeners=[seen.append])  # type: ignore[arg-type]
    url: str = serve(app, lifespan="on").url
    return url, seen


@pytest.fixture
def client(observed: tuple[str, Seen]) -> Any:
    with anthropic.Anthropic(base_url=observed[0], api_key=KEY, max_retries=0) as made:
        yield made


def _last(seen: Seen) -> Exchange:
    deadline = time.monotonic() + 5  # the exchange closes just after the last byte is sent
    while time.monotonic() < deadline:
        matching = [e for e in seen if e.path == "/v1/messages"]
        if matching:
            return matching[-1]
        time.sleep(0.01)
    raise AssertionError("no exchange for /v1/messages")


def _direct(emulator: Emulator, body: dict[str, Any], version: str = "2023-06-01") -> httpx.Response:
    """The same request straight to the emulator's Messages endpoint, as Bedrock answers it."""
    headers = {"x-api-key": "bedrock-api-key-test", "anthropic-version": version}
    return httpx.post(f"{emulator.url}/anthropic/v1/messages", headers=headers, json=body, timeout=30)


def _without_request_id(answer: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    body.pop("request_id", None)
    return body


@pytest.mark.parametrize("stream", [False, True])
def test_opus_55_thinks_adaptively_at_the_effort_asked(
    client: anthropic.Anthropic, observed: tuple[str, Seen], emulator: Emulator, stream: bool
) -> None:
    before = emulator.app.requests.by_operation["Messages"]
    observed[1].clear()
    request: dict[str, Any] = {
        "model": OPUS_55,
        "max_tokens": 4000,
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": "xhigh"},
        "messages": [{"role": "user", "content": "How deep is the quarry?"}],
    }
    if stream:
        with client.messages.stream(**request) as events:
            kinds = [event.type for event in events]
            message = events.get_final_message()
        assert kinds[0] == "message_start"
    else:
        raw = client.messages.with_raw_response.create(**request)
        assert raw.http_request.headers["anthropic-version"] == "2026-10-21"  # the SDK's own default
        message = raw.parse()
    assert message.model == OPUS_55
    thinking, text = message.content[0], message.content[-1]
    assert thinking.type == "thinking"
    assert thinking.signature
    assert "at xhigh effort" in thinking.thinking  # the emulator's model shows the effort it was given
    assert text.type == "text"
    assert "How deep is the quarry?" in text.text
    assert emulator.app.requests.by_operation["Messages"] == before + 1
    exchange = _last(observed[1])
    assert exchange.model == "us.anthropic.claude-opus-5-5"  # the region's inference profile
    assert (exchange.input_tokens, exchange.output_tokens) == (message.usage.input_tokens, message.usage.output_tokens)


def test_the_callers_api_version_reaches_bedrock(client: anthropic.Anthropic) -> None:
    hello: dict[str, Any] = {
        "model": OPUS_55,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        "extra_body": {"temperature": 1},
    }
    # Under 2026-10-21 a sampling parameter is refused even at its default; under 2023-06-01 the default is taken.
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        client.messages.create(**hello)
    old = client.messages.create(**hello, extra_headers={"anthropic-version": "2023-06-01"})
    assert old.model == OPUS_55


def test_budget_thinking_on_opus_55_is_bedrocks_own_400(observed: tuple[str, Seen], emulator: Emulator) -> None:
    body: dict[str, Any] = {
        "model": OPUS_55,
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": "Hi"}],
    }
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    observed[1].clear()
    relayed = httpx.post(f"{observed[0]}/v1/messages", headers=headers, json=body, timeout=30)
    bedrock = _direct(emulator, body | {"model": "us.anthropic.claude-opus-5-5"})
    assert relayed.status_code == bedrock.status_code == 400
    assert _without_request_id(relayed) == _without_request_id(bedrock)
    assert relayed.json()["error"]["type"] == "invalid_request_error"
    assert "adaptive" in relayed.json()["error"]["message"]
    assert _last(observed[1]).error_type == "InvalidRequest"


def test_bedrocks_errors_come_back_as_bedrock_gave_them(observed: tuple[str, Seen], emulator: Emulator) -> None:
    body = {"model": OPUS_55, "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}
    relayed = httpx.post(
        f"{observed[0]}/v1/messages", headers={"x-api-key": KEY, "anthropic-version": "2099-01-01"}, json=body
    )
    bedrock = _direct(emulator, body | {"model": "us.anthropic.claude-opus-5-5"}, version="2099-01-01")
    assert relayed.status_code == bedrock.status_code == 400
    assert _without_request_id(relayed) == _without_request_id(bedrock)
    assert relayed.json()["request_id"]  # Bedrock's own request id, kept


def test_usage_is_read_from_the_passthrough_stream(client: anthropic.Anthropic, observed: tuple[str, Seen]) -> None:
    system: list[Any] = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli;"},
        # Above Opus 4.8's 4,096-token minimum on Bedrock, so the prefix is cached.
        {"type": "text", "text": "You answer questions about quarries. " * 900, "cache_control": {"type": "ephemeral"}},
    ]
    usages = []
    for question in ("[[emulator: words=40]] first", "[[emulator: words=40]] second"):
        observed[1].clear()
        with client.messages.stream(
            model="claude-opus-4-8",
            max_tokens=1000,
            system=system,
            messages=[{"role": "user", "content": question}],
        ) as events:
            message = events.get_final_message()
        exchange = _last(observed[1])
        usage = message.usage
        assert exchange.stream
        assert exchange.ttft_s is not None
        assert (
            exchange.input_tokens,
            exchange.output_tokens,
            exchange.cache_read_tokens,
            exchange.cache_write_tokens,
        ) == (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
        )
        usages.append(usage)
    assert usages[0].output_tokens > 40
    assert usages[0].cache_creation_input_tokens  # the system prompt was written to the cache
    assert usages[1].cache_read_input_tokens  # and read on the next request


@pytest.mark.parametrize(
    "name",
    [
        OPUS_55,
        "claude-opus-4-8",  # Claude Code 2.1.197's default
        "us.anthropic.claude-opus-5-5",
        "global.anthropic.claude-opus-4-7",
        "claude-sonnet-4-5-20250929",  # InvokeModel
        "claude-3-haiku-20240307",  # InvokeModel
        "amazon.nova-lite-v1:0",  # Converse
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_every_answer_names_the_model_asked_for(client: anthropic.Anthropic, name: str, stream: bool) -> None:
    hello: Any = [{"role": "user", "content": "Hi"}]
    if stream:
        with client.messages.stream(model=name, max_tokens=200, messages=hello) as events:
            started = next(event for event in events if event.type == "message_start")
            assert started.message.model == name
            message = events.get_final_message()
    else:
        message = client.messages.create(model=name, max_tokens=200, messages=hello)
    assert message.model == name


def test_claude_opus_4_8_resolves_to_the_regions_profile(
    client: anthropic.Anthropic, observed: tuple[str, Seen]
) -> None:
    observed[1].clear()
    client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    assert _last(observed[1]).model == "us.anthropic.claude-opus-4-8"


@pytest.mark.parametrize(
    ("name", "carried"),
    [
        ("claude-opus-4-8", False),  # takes system messages: forwarded as they are
        ("claude-sonnet-4-5-20250929", True),  # InvokeModel: folded into the user turn
        ("amazon.nova-lite-v1:0", True),  # Converse: folded into the user turn
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_mid_conversation_system_messages(
    client: anthropic.Anthropic, emulator: Emulator, name: str, carried: bool, stream: bool
) -> None:
    # As Claude Code 2.1.197 sends it: the attribution block first in `system`, a system message after the user's.
    system: Any = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli;"},
        {"type": "text", "text": "You are Claude Code."},
    ]
    messages: Any = [
        {"role": "user", "content": "Which agents are there?"},
        {"role": "system", "content": "Available agent types: Explore, Plan."},
    ]
    if stream:
        with client.messages.stream(model=name, max_tokens=300, system=system, messages=messages) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(model=name, max_tokens=300, system=system, messages=messages)
    text = "".join(block.text for block in message.content if block.type == "text")
    assert "Which agents are there?" in text
    # Folded, the system message reaches the model inside the user's turn (the emulator's model quotes that turn).
    assert ("<system-reminder>\nAvailable agent types: Explore, Plan.\n</system-reminder>" in text) == carried
    assert message.model == name


def test_a_multi_turn_tool_loop_with_thinking_and_signatures(client: anthropic.Anthropic) -> None:
    messages: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    request: dict[str, Any] = {
        "model": OPUS_55,
        "max_tokens": 4000,
        "tools": [WEATHER],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "low"},
    }
    with client.messages.stream(**request, messages=messages) as events:
        first = events.get_final_message()
    assert first.stop_reason == "tool_use"
    assert first.content[0].type == "thinking"
    assert first.content[0].signature
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather"
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C, clear"}]},
    ]
    second = client.messages.create(**request, messages=messages)
    assert second.model == OPUS_55
    assert second.stop_reason == "end_turn"
    assert "18°C, clear" in second.content[-1].text  # type: ignore[union-attr]


def test_count_tokens_for_the_messages_endpoint_models(observed: tuple[str, Seen], emulator: Emulator) -> None:
    before = emulator.app.requests.by_operation["CountTokens"]
    body = {
        "model": OPUS_55,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "system": "You answer questions about quarries. " * 100,
        "messages": [{"role": "user", "content": "Hi"}, {"role": "system", "content": "Be brief."}],
    }
    headers = {"x-api-key": KEY, "anthropic-version": "2026-10-21"}
    counted = httpx.post(f"{observed[0]}/v1/messages/count_tokens", headers=headers, json=body, timeout=30)
    assert counted.status_code == 200, counted.text
    assert counted.json()["input_tokens"] > 500
    assert emulator.app.requests.by_operation["CountTokens"] == before + 1


def test_beta_flags_bedrock_refuses_cost_one_refusal(observed: tuple[str, Seen], emulator: Emulator) -> None:
    # Claude Code's flags: some are Anthropic's alone, and Bedrock refuses a request naming a flag it does not know.
    betas = "claude-code-20250219,interleaved-thinking-2025-05-14,quarry-test-flag-2026-12-04"
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": betas}
    body = {"model": OPUS_55, "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}
    counts = emulator.app.requests.by_operation
    before = counts["Messages"]
    first = httpx.post(f"{observed[0]}/v1/messages", headers=headers, json=body, timeout=30)
    assert first.status_code == 200, first.text
    assert counts["Messages"] == before + 2  # refused, then sent with the flags Bedrock takes
    again = httpx.post(f"{observed[0]}/v1/messages", headers=headers, json=body, timeout=30)
    assert again.status_code == 200, again.text
    assert counts["Messages"] == before + 3  # remembered: sent with those flags at once
    # A header of flags Bedrock does not take at all goes without them once Bedrock has refused it.
    unknown = httpx.post(
        f"{observed[0]}/v1/messages", headers=headers | {"anthropic-beta": "quarry-only-2026"}, json=body, timeout=30
    )
    assert unknown.status_code == 200, unknown.text
    assert counts["Messages"] == before + 5


def test_an_error_mid_stream_is_passed_on_and_noted(observed: tuple[str, Seen]) -> None:
    body = {
        "model": OPUS_55,
        "max_tokens": 500,
        "stream": True,
        "messages": [{"role": "user", "content": "[[emulator: words=50, stream-error=ModelStreamErrorException]]"}],
    }
    observed[1].clear()
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{observed[0]}/v1/messages", headers=headers, json=body, timeout=30) as answer:
        assert answer.status_code == 200
        text = answer.read().decode()
    assert "event: error\ndata: " in text
    assert '"type":"error"' in text.replace(" ", "")
    assert _last(observed[1]).error_type is not None


def test_image_urls_are_sent_inline(claude: anthropic.Anthropic, image_server: str) -> None:
    # Bedrock takes base64 sources only: as on the older path, Quarry fetches the URL (behind its SSRF guard).
    message = claude.messages.create(
        model=OPUS_55,
        max_tokens=500,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": f"{image_server}/cat.png"}},
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )
    assert "I received 1 image (png" in message.content[-1].text  # type: ignore[union-attr]
    with pytest.raises(anthropic.BadRequestError):  # a redirect to the metadata address is not followed
        claude.messages.create(
            model=OPUS_55,
            max_tokens=500,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "url", "url": f"{image_server}/redirect"}}],
                }
            ],
        )
