"""Usage read from Bedrock's answers as they pass: Converse's `usage`, an InvokeModel body's `usage` (Claude's) or
its token-count headers, and in streams Converse's `metadata` event, Claude's message_start and message_delta, and
the `amazon-bedrock-invocationMetrics` Bedrock adds to the last chunk of every model's stream. Only the frames that
can carry a count are decoded; every byte goes to the caller untouched."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from quarry.api._core import Usage
from quarry.bedrock import Frame, trace_units
from quarry.exchange import Exchange

__all__ = ["StreamUsage", "note_answer"]

_METRICS = "amazon-bedrock-invocationMetrics"
_TRACE = "amazon-bedrock-trace"  # InvokeModel's guardrail trace, in the body (the last chunk of a stream)


def _json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _from_metrics(metrics: Mapping[str, Any], known: Usage) -> Usage:
    """Bedrock's invocation metrics: the whole call's counts, whatever the model."""
    return Usage(
        input=int(metrics.get("inputTokenCount", known.input) or 0),
        output=int(metrics.get("outputTokenCount", known.output) or 0),
        cache_read=int(metrics.get("cacheReadInputTokenCount", known.cache_read) or 0),
        cache_write=int(metrics.get("cacheWriteInputTokenCount", known.cache_write) or 0),
    )


def _note_tier(exchange: Exchange, converse: dict[str, Any]) -> None:
    """The service tier a Converse answer (or ConverseStream's metadata event) says served the call, and the text
    units its guardrail judged (in its trace, when the call asked for one)."""
    served = converse.get("serviceTier")
    if isinstance(served, dict) and isinstance(served.get("type"), str):
        exchange.service_tier = served["type"]
    _note_trace(exchange, converse.get("trace"))


def _note_trace(exchange: Exchange, trace: object) -> None:
    if isinstance(trace, dict):
        exchange.note_guardrail_units(trace_units(trace.get("guardrail")))


def note_answer(exchange: Exchange, operation: str, body: bytes, headers: Mapping[str, str]) -> None:
    """The usage of a whole (non-streamed) answer."""
    if operation == "converse":
        answer = _json(body)
        if isinstance(answer, dict):
            exchange.note_usage(Usage.from_converse(answer.get("usage")).counts())
            _note_tier(exchange, answer)
        return
    answer = _json(body) if b'"usage"' in body or _TRACE.encode() in body else None
    if isinstance(answer, dict):
        _note_trace(exchange, answer.get(_TRACE))
    if isinstance(answer, dict) and isinstance(answer.get("usage"), dict):  # Claude's (and the Messages endpoint's)
        exchange.note_usage(Usage.from_messages(answer["usage"]).counts())
        return
    counts = {name.lower(): value for name, value in headers.items()}
    if "x-amzn-bedrock-input-token-count" in counts:  # every InvokeModel answer carries them
        exchange.note_usage(
            Usage(
                input=int(counts["x-amzn-bedrock-input-token-count"] or 0),
                output=int(counts.get("x-amzn-bedrock-output-token-count") or 0),
                cache_read=int(counts.get("x-amzn-bedrock-cache-read-input-token-count") or 0),
                cache_write=int(counts.get("x-amzn-bedrock-cache-write-input-token-count") or 0),
            ).counts()
        )


class StreamUsage:
    """Reads a stream's frames (ConverseStream or InvokeModelWithResponseStream) for its first token and usage."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._usage = Usage()
        self._tail = b""

    def frames(self, frames: list[Frame]) -> None:
        for frame in frames:
            if frame.exception:
                self._exchange.error_type = frame.kind[:1].upper() + frame.kind[1:]
            elif frame.kind == "contentBlockDelta":
                self._exchange.first_token()
            elif frame.kind == "metadata":
                event = _json(frame.payload)
                if isinstance(event, dict):
                    self._note(Usage.from_converse(event.get("usage")))
                    _note_tier(self._exchange, event)
            elif frame.kind == "chunk":
                self._chunk(frame.payload)

    def _chunk(self, payload: bytes) -> None:
        envelope = _json(payload)
        try:
            data = base64.b64decode(envelope["bytes"]) if isinstance(envelope, dict) else b""
        except (KeyError, TypeError, binascii.Error):
            return
        if b"delta" in data:
            self._exchange.first_token()
        if b'"usage"' not in data and _METRICS.encode() not in data:
            return  # a text delta: nothing to count, not decoded
        event = _json(data)
        if not isinstance(event, dict):
            return
        _note_trace(self._exchange, event.get(_TRACE))
        if isinstance(metrics := event.get(_METRICS), dict):
            self._note(_from_metrics(metrics, self._usage))
        elif event.get("type") == "message_start" and isinstance(event.get("message"), dict):
            self._note(Usage.from_messages(event["message"].get("usage"), self._usage))
        elif isinstance(event.get("usage"), dict):
            self._note(Usage.from_messages(event["usage"], self._usage))

    def sse(self, chunk: bytes) -> None:
        """The Messages endpoint's SSE: Anthropic's events, read the same way, line by line (a line may arrive in
        two pieces: the unfinished end waits for the next chunk)."""
        if b"content_block_delta" in chunk:
            self._exchange.first_token()
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            if not (line.startswith(b"data:") and b'"usage"' in line):
                continue
            event = _json(line[5:])
            if not isinstance(event, dict):
                continue
            if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
                self._note(Usage.from_messages(event["message"].get("usage"), self._usage))
            elif isinstance(event.get("usage"), dict):
                self._note(Usage.from_messages(event["usage"], self._usage))

    def _note(self, usage: Usage) -> None:
        self._usage = usage
        self._exchange.note_usage(usage.counts())
