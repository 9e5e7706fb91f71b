"""Tools (whole and streamed, round-tripped with results), JSON modes, and reasoning with signed thinking."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.api.conftest import HAIKU, LLAMA3, SONNET_37, SONNET_45, WEATHER_TOOL

PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_tool_call_and_result_round_trip(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Use get_weather for Paris"}]
    first = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) >= {"city"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"t": 21}'},
    ]
    second = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'The get_weather tool returned: {"t": 21}'


@pytest.mark.parametrize(
    ("choice", "prompt", "expect_call"),
    [
        ("auto", "Hello", False),
        ("auto", "Use get_weather", True),
        ("none", "Use get_weather", False),
        ("required", "Hello", True),
        ({"type": "function", "function": {"name": "get_weather"}}, "Hello", True),
    ],
)
def test_tool_choice(client: openai.OpenAI, choice: Any, prompt: str, expect_call: bool) -> None:
    answer = client.chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": prompt}], tools=[WEATHER_TOOL], tool_choice=choice
    )
    calls = answer.choices[0].message.tool_calls
    assert bool(calls) is expect_call
    if calls:
        assert calls[0].function.name == "get_weather"


def test_named_tool_choice_must_name_a_tool(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=HAIKU,
            messages=[{"role": "user", "content": "Hi"}],
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "missing"}},
        )
    assert caught.value.body["param"] == "tool_choice"  # type: ignore[index]


def test_streamed_tool_calls_have_stable_indexes_and_incremental_arguments(client: openai.OpenAI) -> None:
    search = {
        "type": "function",
        "function": {"name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
    }
    stream = client.chat.completions.create(
        model=HAIKU,
        messages=[{"role": "user", "content": "call get_weather and search please"}],
        tools=[WEATHER_TOOL, search],  # type: ignore[list-item]
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or ():
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            if call.id:
                assert not entry["id"], "the id comes once, in the first delta of a call"
                entry["id"] = call.id
            if call.function and call.function.name:
                entry["name"] = call.function.name
            if call.function and call.function.arguments:
                entry["arguments"] += call.function.arguments
                fragments += 1
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(calls) == list(range(len(calls)))
    assert len(calls) == 2
    assert {c["name"] for c in calls.values()} == {"get_weather", "search"}
    assert all(json.loads(c["arguments"]) is not None and c["id"] for c in calls.values())
    assert fragments > len(calls), "arguments arrive in several fragments"


def test_json_schema_native_structured_output(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=SONNET_45,
        messages=[{"role": "user", "content": "Describe a person"}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA}},
    )
    data = json.loads(answer.choices[0].message.content or "")
    assert set(data) == {"name", "age"}
    assert isinstance(data["age"], int)
    assert answer.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_through_a_forced_tool(client: openai.OpenAI, stream: bool) -> None:
    # Haiku 3 has no native structured output: the schema becomes a forced tool, its input the answer.
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA}}
    messages: Any = [{"role": "user", "content": "Describe a person"}]
    if stream:
        chunks = list(client.chat.completions.create(model=HAIKU, messages=messages, response_format=fmt, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
    else:
        answer = client.chat.completions.create(model=HAIKU, messages=messages, response_format=fmt)
        text, finish = answer.choices[0].message.content or "", [answer.choices[0].finish_reason]
        assert answer.choices[0].message.tool_calls is None
    assert set(json.loads(text)) == {"name", "age"}
    assert finish == ["stop"]


@pytest.mark.parametrize("model", [HAIKU, LLAMA3])
def test_json_object_mode_gives_valid_json(client: openai.OpenAI, model: str) -> None:
    # Llama 3 8B has no tools: the instruction goes into the prompt and the answer is checked before it is sent.
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "List three colours"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


def test_json_schema_without_schema_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=HAIKU,
            messages=[{"role": "user", "content": "Hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x"}},  # type: ignore[typeddict-item]
        )
    assert caught.value.body["param"] == "response_format"  # type: ignore[index]


def test_reasoning_effort_returns_reasoning_content(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=SONNET_37,
        reasoning_effort="low",
        temperature=0.2,
        messages=[{"role": "user", "content": "Think about it"}],
    )
    message: Any = answer.choices[0].message
    assert message.content == 'You said: "Think about it"'
    assert message.reasoning_content
    assert message.thinking_blocks[0]["signature"]


def test_thinking_signatures_round_trip_through_tool_use(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Use get_weather for Oslo"}]
    first = client.chat.completions.create(
        model=SONNET_37, reasoning_effort="medium", messages=messages, tools=[WEATHER_TOOL]
    )
    message: Any = first.choices[0].message
    assert message.tool_calls
    assert message.thinking_blocks
    call = message.tool_calls[0]
    messages += [message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "cold"}]
    # The emulator checks the signature as Claude does: an edited or dropped thinking block is refused.
    second = client.chat.completions.create(
        model=SONNET_37, reasoning_effort="medium", messages=messages, tools=[WEATHER_TOOL]
    )
    assert second.choices[0].message.content == "The get_weather tool returned: cold"
    assert getattr(second.choices[0].message, "reasoning_content", None)


def test_thinking_is_dropped_when_the_client_lost_the_thinking_blocks(client: openai.OpenAI) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "Use get_weather for Oslo"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "cold"},
    ]
    answer = client.chat.completions.create(
        model=SONNET_37, reasoning_effort="high", messages=messages, tools=[WEATHER_TOOL]
    )
    assert answer.choices[0].message.content == "The get_weather tool returned: cold"


def test_streamed_reasoning_then_signed_block(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model=SONNET_37, reasoning_effort="low", stream=True, messages=[{"role": "user", "content": "Hi"}]
        )
    )
    deltas: list[Any] = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    blocks = [b for d in deltas for b in (getattr(d, "thinking_blocks", None) or [])]
    assert reasoning
    assert len(blocks) == 1
    assert blocks[0]["thinking"] == reasoning
    assert blocks[0]["signature"]
    assert "".join(d.content or "" for d in deltas) == 'You said: "Hi"'
