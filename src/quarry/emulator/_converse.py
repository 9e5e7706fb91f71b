"""Converse and ConverseStream: a Reply rendered as Bedrock's JSON response or as its event stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from quarry.emulator._eventstream import event_frame
from quarry.emulator._responder import Block, Reply
from quarry.emulator._tokens import split_tokens

__all__ = ["converse_response", "converse_stream_frames", "padding"]

_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def padding(index: int) -> str:
    """Bedrock pads every stream event with a `p` field of varying length so sizes don't reveal content."""
    return _PAD[: 4 + (index * 7) % 48]


def _content(block: Block) -> dict[str, Any]:
    if block.kind == "text":
        return {"text": block.text}
    if block.kind == "toolUse":
        return {"toolUse": {"toolUseId": block.tool_use_id, "name": block.name, "input": block.input}}
    return {"reasoningContent": {"reasoningText": {"text": block.text, "signature": block.signature}}}


def converse_response(
    reply: Reply, latency_ms: int, trace: dict[str, Any] | None = None, tier: str | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [_content(b) for b in reply.blocks]}},
        "stopReason": reply.stop_reason,
        "usage": reply.usage(),
        "metrics": {"latencyMs": latency_ms},
    }
    if trace is not None:  # ConverseTrace: a guardrail's assessments, when its trace was asked
        response["trace"] = trace
    if tier is not None:  # ConverseResponse.serviceTier: the tier that served the call
        response["serviceTier"] = {"type": tier}
    return response


def _events(
    reply: Reply, started: float, trace: dict[str, Any] | None, tier: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "messageStart", {"role": "assistant"}
    for index, block in enumerate(reply.blocks):
        if block.kind == "text":
            for piece in split_tokens(block.text):
                yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}
        elif block.kind == "reasoning":
            for piece in split_tokens(block.text):
                yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}}
            delta = {"reasoningContent": {"signature": block.signature}}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}
        else:
            start = {"toolUse": {"toolUseId": block.tool_use_id, "name": block.name}}
            yield "contentBlockStart", {"contentBlockIndex": index, "start": start}
            for fragment in block.input_fragments():
                delta = {"toolUse": {"input": fragment}}
                yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}
        yield "contentBlockStop", {"contentBlockIndex": index}
    yield "messageStop", {"stopReason": reply.stop_reason}
    latency = int((time.perf_counter() - started) * 1000)
    metadata: dict[str, Any] = {"usage": reply.usage(), "metrics": {"latencyMs": latency}}
    if trace is not None:  # ConverseStreamTrace, in the metadata event
        metadata["trace"] = trace
    if tier is not None:  # ConverseStreamMetadataEvent.serviceTier
        metadata["serviceTier"] = {"type": tier}
    yield "metadata", metadata


def converse_stream_frames(
    reply: Reply, started: float, trace: dict[str, Any] | None = None, tier: str | None = None
) -> Iterator[bytes]:
    """ConverseStream's frames, lazily: the metadata latency is measured when the last frame is made."""
    for index, (event_type, payload) in enumerate(_events(reply, started, trace, tier)):
        payload["p"] = padding(index)
        yield event_frame(event_type, orjson.dumps(payload))
