"""POST /v1/responses with `stream: true`: OpenAI's events in OpenAI's order, each with its sequence_number."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from tests.api.conftest import HAIKU, KEY, SONNET_37
from tests.api.responses.test_create import WEATHER


def _events(client: openai.OpenAI, **params: Any) -> list[Any]:
    with client.responses.create(stream=True, store=False, **params) as stream:
        return list(stream)


def test_text_stream_events_in_order(client: openai.OpenAI) -> None:
    events = _events(client, model=HAIKU, input="Say hello")
    kinds = [event.type for event in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert events[-4].text == text
    done = events[-1].response
    assert done.status == "completed"
    assert done.output_text == text
    assert done.output[0].id == events[2].item.id
    assert done.usage is not None
    assert done.usage.output_tokens > 0
    assert events[0].response.status == "in_progress"
    assert events[0].response.output == []


def test_sdk_stream_helper_gives_the_final_response(client: openai.OpenAI) -> None:
    with client.responses.stream(model=HAIKU, input="Say hello", store=False) as stream:
        texts = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(texts)


def test_function_call_stream(client: openai.OpenAI) -> None:
    events = _events(client, model=HAIKU, input="Use get_weather for Paris", tools=[WEATHER])
    kinds = [event.type for event in events]
    # The model says a word first, then calls the tool: the call is the second output item.
    start = next(
        i for i, e in enumerate(events) if e.type == "response.output_item.added" and e.item.type == "function_call"
    )
    assert events[start].output_index == 1
    tail = kinds[start:]
    deltas = tail.count("response.function_call_arguments.delta")
    assert deltas >= 1
    assert tail == [
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * deltas,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = events[start].item, events[-2].item
    assert added.type == "function_call"
    assert added.status == "in_progress"
    assert added.name == "get_weather"
    assert done.call_id == added.call_id
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert events[-3].arguments == arguments == done.arguments
    assert json.loads(arguments)["city"]


def test_reasoning_summary_stream(client: openai.OpenAI) -> None:
    events = _events(client, model=SONNET_37, input="Hi", reasoning={"effort": "low", "summary": "auto"})
    kinds = [event.type for event in events]
    deltas = kinds.count("response.reasoning_summary_text.delta")
    assert deltas >= 1
    assert kinds[: 4 + deltas + 4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * deltas,
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
    ]
    assert kinds[-1] == "response.completed"
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    reasoning = events[kinds.index("response.output_item.done")].item
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == summary
    final = events[-1].response
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[1].id == events[kinds.index("response.output_item.added", 4)].item.id


def test_thinking_without_its_text_streams_no_part(client: openai.OpenAI) -> None:
    # Sonnet 5.5 always thinks and, unless a summary is asked for, sends the thinking without its text: the stream
    # then announces no summary or content part, as the finished reasoning item has none.
    events = _events(client, model="claude-sonnet-5-5", input="Hi")
    kinds = [event.type for event in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
    ]
    reasoning = events[3].item
    assert reasoning.type == "reasoning"
    assert reasoning.summary == []
    assert not reasoning.content
    assert events[-1].response.output_text == 'You said: "Hi"'


def test_max_output_tokens_ends_with_response_incomplete(client: openai.OpenAI) -> None:
    events = _events(client, model=HAIKU, input="[[emulator: words=100]] go", max_output_tokens=8)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_upstream_failure_mid_stream_is_an_error_event_then_response_failed(gateway: str) -> None:
    prompt = "[[emulator: words=50, stream-error-after=5, stream-error=modelStreamErrorException]]"
    body = {"model": HAIKU, "stream": True, "store": False, "input": prompt}
    with httpx.stream(
        "POST", f"{gateway}/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as answer:
        assert answer.status_code == 200
        lines = [line for line in answer.iter_lines() if line.startswith("data: ")]
    events = [json.loads(line.removeprefix("data: ")) for line in lines]
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-2:] == ["error", "response.failed"]
    assert events[-2]["message"]
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))


def test_a_codex_shaped_turn_streams_and_round_trips(client: openai.OpenAI) -> None:
    """What Codex sends: stream, store false, sealed reasoning, summary auto, developer items, prompt_cache_key,
    client_metadata, and function, namespace and web_search tools."""
    tools: Any = [
        WEATHER,
        {"type": "namespace", "name": "mcp", "description": "MCP tools", "tools": [{"type": "function", "name": "ls"}]},
        {"type": "web_search", "external_web_access": False},
    ]
    common: Any = {
        "model": SONNET_37,
        "instructions": "You are a coding agent.",
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199-session",
        "extra_body": {"client_metadata": {"x-codex-turn": "1"}},
    }
    conversation: list[Any] = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Use get_weather for Paris"}]},
    ]
    with client.responses.create(stream=True, input=conversation, **common) as stream:
        events = list(stream)
    final = events[-1].response
    assert events[-1].type == "response.completed"
    kinds = [item.type for item in final.output]
    assert kinds[0] == "reasoning"
    assert "function_call" in kinds
    assert final.output[0].encrypted_content
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done] == kinds
    call = next(item for item in done if item.type == "function_call")
    conversation += [item.model_dump(exclude_none=True) for item in done]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
    with client.responses.create(stream=True, input=conversation, **common) as stream:
        second = list(stream)[-1].response
    assert second.output[0].type == "reasoning"  # thinking went on through the tool turn
    assert second.output_text == "The get_weather tool returned: sunny"
