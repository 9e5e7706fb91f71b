"""ConverseStream and InvokeModelWithResponseStream, read by boto3 and by aiobotocore with `async for`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import EventStreamError

from tests.emulator.conftest import CREDENTIALS, HAIKU, NO_RETRIES, SONNET_37, user
from tests.emulator.test_converse import WEATHER_TOOL


def event_names(events: list[dict[str, Any]]) -> list[str]:
    return [next(iter(e)) for e in events]


def test_converse_stream_sends_bedrocks_event_sequence(runtime: Any) -> None:
    response = runtime.converse_stream(modelId=HAIKU, messages=[user("stream me")])
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = list(response["stream"])
    names = event_names(events)
    assert names[0] == "messageStart"
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == 'You said: "stream me"'
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    usage = events[-1]["metadata"]["usage"]
    assert usage == runtime.converse(modelId=HAIKU, messages=[user("stream me")])["usage"]


def test_streamed_tool_use_reassembles_to_the_unstreamed_input(runtime: Any) -> None:
    request = {"modelId": HAIKU, "messages": [user("get_weather in Lima")], "toolConfig": {"tools": [WEATHER_TOOL]}}
    events = list(runtime.converse_stream(**request)["stream"])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    index = start["contentBlockIndex"]
    fragments = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and e["contentBlockDelta"]["contentBlockIndex"] == index
    ]
    unstreamed = runtime.converse(**request)["output"]["message"]["content"]
    tool_use = next(b["toolUse"] for b in unstreamed if "toolUse" in b)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    assert start["start"]["toolUse"]["toolUseId"] == tool_use["toolUseId"]
    assert json.loads("".join(fragments)) == tool_use["input"]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


def test_streamed_reasoning_carries_text_then_signature(runtime: Any) -> None:
    events = list(
        runtime.converse_stream(
            modelId=SONNET_37,
            messages=[user("think first")],
            additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}},
        )["stream"]
    )
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    reasoning = [d["delta"]["reasoningContent"] for d in deltas if d["contentBlockIndex"] == 0]
    assert "text" in reasoning[0]
    assert list(reasoning[-1]) == ["signature"]
    assert {d["contentBlockIndex"] for d in deltas} == {0, 1}


def test_stream_error_directive_interrupts_the_stream(runtime: Any) -> None:
    stream = runtime.converse_stream(modelId=HAIKU, messages=[user("[[emulator: words=40, stream-error-after=5]]")])
    seen: list[dict[str, Any]] = []
    with pytest.raises(EventStreamError) as excinfo:
        seen.extend(stream["stream"])
    assert len(seen) == 5
    assert excinfo.value.response["Error"]["Code"] == "modelStreamErrorException"


async def test_aiobotocore_reads_converse_stream_with_async_for(emulator_url: str) -> None:
    session = get_session()
    async with session.create_client(
        "bedrock-runtime", endpoint_url=emulator_url, region_name="us-east-1", config=NO_RETRIES, **CREDENTIALS
    ) as runtime:
        response = await runtime.converse_stream(modelId=HAIKU, messages=[user("[[emulator: words=30]]")])
        names = []
        async for event in response["stream"]:
            names.append(next(iter(event)))
    assert names[0] == "messageStart"
    assert names.count("contentBlockDelta") >= 30
    assert names[-1] == "metadata"


async def test_aiobotocore_reads_anthropic_response_stream(emulator_url: str) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hey"}],
    }
    session = get_session()
    async with session.create_client(
        "bedrock-runtime", endpoint_url=emulator_url, region_name="us-east-1", **CREDENTIALS
    ) as runtime:
        response = await runtime.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(body))
        events = []
        async for event in response["body"]:
            events.append(json.loads(event["chunk"]["bytes"]))
    types = [e["type"] for e in events]
    assert types[0] == "message_start"
    assert types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == 'You said: "hey"'
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == events[-2]["usage"]["output_tokens"]
    assert metrics["inputTokenCount"] == events[0]["message"]["usage"]["input_tokens"]


def test_anthropic_stream_frames_decode_with_boto3(runtime: Any) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]}
    response = runtime.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    chunks = [event["chunk"]["bytes"] for event in response["body"]]
    assert all(isinstance(c, bytes) for c in chunks)
    # botocore hands over the chunk's bytes already decoded from base64: each is one Anthropic event's JSON.
    assert json.loads(chunks[0])["type"] == "message_start"
    assert json.loads(chunks[-1])["type"] == "message_stop"
