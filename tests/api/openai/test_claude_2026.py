"""The Claude models of 2026 through the OpenAI dialect, end to end with the official SDK: reasoning_effort as
adaptive thinking and effort (or budgets), sampling parameters the models refuse, prefill, forced tools, system
messages inside the conversation, the model list and the family aliases.

What the gateway sends is read on the wire: a second gateway reaches the emulator through a recording proxy,
which keeps every Converse body it passes on (the emulator checks the rules; the proxy only watches)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from quarry.server import create_app
from quarry.settings import ModelSettings, Settings
from tests.api.conftest import KEY, SONNET_45_PROFILE, WEATHER_TOOL, Emulator

OPUS_55 = "us.anthropic.claude-opus-5-5"
SONNET_55 = "us.anthropic.claude-sonnet-5-5"
HAIKU_55 = "us.anthropic.claude-haiku-5-5"
OPUS_46 = "us.anthropic.claude-opus-4-6-v1"
LEVELS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]
HI = [{"role": "user", "content": "Hi"}]
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class Recorder:
    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def last(self) -> dict[str, Any]:
        return self.bodies[-1]


@pytest.fixture(scope="module")
def recorder(serve: Any, emulator: Emulator) -> Recorder:
    seen = Recorder()

    async def forward(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        if request.url.path.endswith(("/converse", "/converse-stream")):
            seen.bodies.append(orjson.loads(body))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with httpx.AsyncClient() as client:
            upstream = await client.request(
                request.method, f"{emulator.url}{request.url.path}?{request.url.query}", headers=headers, content=body
            )
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        await Response(upstream.content, upstream.status_code, headers=kept)(scope, receive, send)

    seen.url = serve(forward).url
    return seen


def _gateway(serve: Any, runtime_url: str | None, models: ModelSettings) -> str:
    with pytest.MonkeyPatch.context() as patch:
        if runtime_url:  # read once, as the gateway starts
            patch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", runtime_url)
        settings = Settings(backend="bedrock", api_key=KEY, keepalive_s=0.2, models=models)  # type: ignore[arg-type]
        url: str = serve(create_app(settings), lifespan="on").url
    return url


@pytest.fixture(scope="module")
def watched(serve: Any, aws_environment: None, recorder: Recorder) -> Iterator[openai.OpenAI]:
    url = _gateway(serve, recorder.url, ModelSettings())
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as made:
        yield made


@pytest.fixture(scope="module")
def strict(serve: Any, aws_environment: None) -> Iterator[openai.OpenAI]:
    url = _gateway(serve, None, ModelSettings(strict_parameters=True))
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as made:
        yield made


def _expected(model: str, level: str) -> tuple[dict[str, Any] | None, str | None]:
    """The thinking and effort each model is sent for each reasoning_effort (README's table)."""
    if model == SONNET_45_PROFILE:
        budgets = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 63999}
        return (None if level == "none" else {"type": "enabled", "budget_tokens": budgets[level]}), None
    effort = "high" if (model, level) == (OPUS_46, "xhigh") else {"minimal": "low"}.get(level, level)
    if level != "none":
        return {"type": "adaptive"}, effort
    if model in (OPUS_55, SONNET_55):
        return {"type": "adaptive"}, "low"  # they always think: the least of it
    if model == HAIKU_55:
        return {"type": "disabled"}, None
    return None, None


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("model", [OPUS_55, SONNET_55, HAIKU_55, OPUS_46, SONNET_45_PROFILE])
def test_every_reasoning_effort(
    watched: openai.OpenAI, recorder: Recorder, model: str, level: str, stream: bool
) -> None:
    asked: Any = level
    if stream:
        chunks = list(watched.chat.completions.create(model=model, messages=HI, reasoning_effort=asked, stream=True))  # type: ignore[call-overload]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        answer = watched.chat.completions.create(model=model, messages=HI, reasoning_effort=asked)  # type: ignore[call-overload]
        text = answer.choices[0].message.content or ""
    assert text
    body = recorder.last()
    thinking, effort = _expected(model, level)
    if model == OPUS_46 and thinking and not stream:  # its thinking text is shown: the emulator's steps name the effort
        assert f"at {effort} effort" in getattr(answer.choices[0].message, "reasoning_content", "")
    assert body.get("additionalModelRequestFields", {}).get("thinking") == thinking
    assert body.get("outputConfig", {}).get("effort") == effort


def test_thinking_signatures_round_trip_on_opus_55(watched: openai.OpenAI) -> None:
    # Opus 5.5 omits its thinking text but signs the block; the block goes back and the tool loop goes on.
    messages: list[Any] = [{"role": "user", "content": "Use get_weather for Oslo"}]
    first = watched.chat.completions.create(
        model="claude-opus-5-5", reasoning_effort="high", messages=messages, tools=[WEATHER_TOOL]
    )
    message: Any = first.choices[0].message
    assert message.tool_calls
    assert message.thinking_blocks[0]["signature"]
    assert message.thinking_blocks[0]["thinking"] == ""  # `display: omitted`, the default from Opus 4.7 on
    call = message.tool_calls[0]
    messages += [message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "cold"}]
    second = watched.chat.completions.create(
        model="claude-opus-5-5", reasoning_effort="high", messages=messages, tools=[WEATHER_TOOL]
    )
    assert second.choices[0].message.content == "The get_weather tool returned: cold"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_refused_sampling_is_dropped_and_named(watched: openai.OpenAI, recorder: Recorder, stream: bool) -> None:
    raw = watched.chat.completions.with_raw_response.create(
        model=OPUS_55,
        messages=HI,
        temperature=0.3,
        top_p=0.9,
        stream=stream,  # type: ignore[arg-type]
    )
    assert raw.status_code == 200
    assert raw.headers["x-quarry-dropped-params"] == "temperature, top_p"
    if stream:
        list(raw.parse())  # type: ignore[call-overload]
    config = recorder.last().get("inferenceConfig", {})
    assert "temperature" not in config
    assert "topP" not in config


def test_older_models_keep_their_sampling(watched: openai.OpenAI, recorder: Recorder) -> None:
    raw = watched.chat.completions.with_raw_response.create(model=SONNET_45_PROFILE, messages=HI, temperature=0.3)  # type: ignore[arg-type]
    assert "x-quarry-dropped-params" not in raw.headers
    assert recorder.last()["inferenceConfig"]["temperature"] == 0.3


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_strict_parameters_refuse_them(strict: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        strict.chat.completions.create(model=OPUS_55, messages=HI, temperature=0.3, top_p=1.0, stream=stream)  # type: ignore[call-overload]
    error = caught.value.body
    assert isinstance(error, dict)
    assert "`temperature`" in error["message"]
    assert "top_p" not in error["message"]
    assert error["param"] == "temperature"
    assert strict.chat.completions.create(model=OPUS_55, messages=HI, temperature=1.0).choices  # the default


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("model", [OPUS_55, OPUS_46, "claude-opus-4-8"])
def test_prefill_is_refused_by_name(watched: openai.OpenAI, model: str, stream: bool) -> None:
    messages: Any = [*HI, {"role": "assistant", "content": "The answer is"}]
    with pytest.raises(openai.BadRequestError) as caught:
        watched.chat.completions.create(model=model, messages=messages, stream=stream)
    error = caught.value.body
    assert isinstance(error, dict)
    assert "does not support assistant message prefill" in error["message"]
    assert error["param"] == "messages"
    assert error["type"] == "invalid_request_error"


def test_prefill_still_works_where_the_model_takes_it(watched: openai.OpenAI) -> None:
    messages: Any = [*HI, {"role": "assistant", "content": "The answer is"}]
    assert watched.chat.completions.create(model=SONNET_45_PROFILE, messages=messages).choices


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_tool_choice_is_refused_by_name(watched: openai.OpenAI, choice: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        watched.chat.completions.create(model=SONNET_55, messages=HI, tools=[WEATHER_TOOL], tool_choice=choice)  # type: ignore[list-item]
    error = caught.value.body
    assert isinstance(error, dict)
    assert "does not support forced tool use" in error["message"]
    assert error["param"] == "tool_choice"


def test_forced_tool_choice_where_the_model_takes_it(watched: openai.OpenAI) -> None:
    answer = watched.chat.completions.create(
        model=HAIKU_55,
        messages=HI,
        tools=[WEATHER_TOOL],
        tool_choice="required",  # type: ignore[list-item]
    )
    assert answer.choices[0].message.tool_calls


CONVERSATION: Any = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "developer", "content": "From now on, answer in French."},
    {"role": "user", "content": "How are you?"},
]


def test_system_messages_stay_in_the_conversation(watched: openai.OpenAI, recorder: Recorder) -> None:
    watched.chat.completions.create(model="claude-opus-4-8", messages=CONVERSATION)
    body = recorder.last()
    assert body["system"] == [{"text": "Be brief."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "system", "user"]
    assert body["messages"][2]["content"] == [{"text": "From now on, answer in French."}]


def test_system_messages_join_the_system_prompt_on_older_models(watched: openai.OpenAI, recorder: Recorder) -> None:
    watched.chat.completions.create(model=SONNET_45_PROFILE, messages=CONVERSATION)
    body = recorder.last()
    assert body["system"] == [{"text": "Be brief."}, {"text": "From now on, answer in French."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


@pytest.mark.parametrize(
    ("requested", "used"),
    [
        ("opus", OPUS_55),
        ("sonnet", SONNET_55),
        ("haiku", HAIKU_55),
        ("claude-opus-5-5", OPUS_55),
        ("claude-sonnet-5-5", SONNET_55),
        ("claude-haiku-5-5", HAIKU_55),
        ("claude-opus-5", "us.anthropic.claude-opus-5"),
        ("claude-sonnet-5", "us.anthropic.claude-sonnet-5"),
        ("claude-opus-4-8", "us.anthropic.claude-opus-4-8"),
        ("claude-opus-4-7", "us.anthropic.claude-opus-4-7"),
        ("claude-fable-5-1", "us.anthropic.claude-fable-5-1"),
        ("claude-opus-4-6", OPUS_46),
        ("claude-sonnet-4-6", "us.anthropic.claude-sonnet-4-6"),
        ("gpt-4o", SONNET_55),  # OpenAI's names: the default model, the current Sonnet
        ("global.anthropic.claude-opus-5-5", "global.anthropic.claude-opus-5-5"),
    ],
)
def test_new_model_names_aliases_and_the_default(watched: openai.OpenAI, requested: str, used: str) -> None:
    assert watched.chat.completions.create(model=requested, messages=HI).model == used


def test_model_list_shows_what_each_model_takes(watched: openai.OpenAI) -> None:
    models = {m.id: m.model_dump() for m in watched.models.list()}
    opus = models[OPUS_55]
    assert opus["context_window"] == 1_000_000
    assert opus["max_output_tokens"] == 128_000
    assert opus["thinking"] == "adaptive"
    assert opus["thinking_always_on"] is True
    assert opus["effort_levels"] == ["low", "medium", "high", "xhigh", "max"]
    assert opus["default_effort"] == "medium"
    assert models[SONNET_45_PROFILE]["thinking"] == "budget"
    assert models[SONNET_45_PROFILE]["effort_levels"] == []
    assert models[OPUS_46]["effort_levels"] == ["low", "medium", "high", "max"]
    assert models["opus"]["target"] == OPUS_55
    assert models["sonnet"]["default_effort"] == "high"
    one = watched.models.retrieve(HAIKU_55).model_dump()
    assert (one["object"], one["owned_by"], one["thinking"]) == ("model", "anthropic", "adaptive")
    assert "thinking" not in models["amazon.titan-embed-text-v2:0"]


def test_family_aliases_are_configurable() -> None:
    models = ModelSettings(
        aliases={"opus": "claude-opus-4-8"}, family_aliases={"haiku": "", "sonnet": "claude-sonnet-5"}
    )
    assert models.all_aliases() == {"opus": "claude-opus-4-8", "sonnet": "claude-sonnet-5"}
    assert ModelSettings(reasoning_budgets={"high": 9000}).reasoning_budgets["max"] == 65536  # levels left out
