"""Upstream streams watched for the request's Exchange: events passed on untouched, noting the first token and the
usage as they go by. The usage is mapped by the core's `Usage`, so the record itself, `quarry.exchange`, knows no
Bedrock shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TypeVar, cast

import orjson

from quarry.api._core import Usage
from quarry.bedrock import (
    ConverseStreamEvent,
    MessagesStreamEvent,
    MessagesUsage,
    ServerSentEvent,
    error_from_messages,
    trace_units,
)
from quarry.exchange import Exchange

__all__ = ["converse_watcher", "noted", "watch_anthropic", "watch_converse", "watch_messages"]


def converse_watcher(exchange: Exchange, before: Usage | None = None) -> Callable[[ConverseStreamEvent], None]:
    """What `watch_converse` does to each event, as a function: for a relay that renders each event anyway, which
    calls it there rather than passing events through one more async generator (a resume per event)."""

    def note(event: ConverseStreamEvent) -> None:
        if "contentBlockDelta" in event:
            exchange.first_token()
        elif "metadata" in event:
            metadata = event["metadata"]
            usage = Usage.from_converse(metadata.get("usage"))
            exchange.note_usage((usage + before if before is not None else usage).counts())
            if "serviceTier" in metadata:  # the tier that served the stream
                exchange.service_tier = metadata["serviceTier"].get("type") or exchange.service_tier
            if "trace" in metadata:  # the guardrail's assessments, with the text units it judged
                exchange.note_guardrail_units(trace_units(metadata["trace"].get("guardrail")))
        elif "messageStop" in event:
            exchange.finish_reason = event["messageStop"].get("stopReason")

    return note


Rendered = TypeVar("Rendered")


def noted(
    render: Callable[[ConverseStreamEvent], Rendered], exchange: Exchange
) -> Callable[[ConverseStreamEvent], Rendered]:
    """`render`, noting each event for the exchange first (`converse_watcher`): a relay's render function that
    watches the stream as it renders it."""
    note = converse_watcher(exchange)

    def render_noted(event: ConverseStreamEvent) -> Rendered:
        note(event)
        return render(event)

    return render_noted


async def watch_converse(
    events: AsyncIterator[ConverseStreamEvent], exchange: Exchange, before: Usage | None = None
) -> AsyncIterator[ConverseStreamEvent]:
    """ConverseStream events, passed on untouched, noting the first token and the usage (added to `before`, what
    the request's earlier calls used, when one request streams several calls one after another)."""
    note = converse_watcher(exchange, before)
    async for event in events:
        note(event)
        yield event


async def watch_anthropic(
    events: AsyncIterator[MessagesStreamEvent], exchange: Exchange
) -> AsyncIterator[MessagesStreamEvent]:
    """Anthropic stream events (Claude on InvokeModel), passed on untouched, noting the first token and the usage
    (message_start's, then message_delta's over it)."""
    usage = Usage()
    async for event in events:
        kind = event.get("type")
        if kind == "content_block_delta":
            exchange.first_token()
        elif kind == "message_start" and "message" in event:
            usage = Usage.from_messages(event["message"].get("usage"), usage)
            exchange.note_usage(usage.counts())
        elif kind == "message_delta":
            usage = Usage.from_messages(event.get("usage"), usage)
            exchange.note_usage(usage.counts())
            delta: object = event.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                exchange.finish_reason = delta["stop_reason"]
        yield event


async def watch_messages(events: AsyncIterator[ServerSentEvent], exchange: Exchange) -> AsyncIterator[ServerSentEvent]:
    """Bedrock's Messages endpoint stream, passed on as it came, noting the first token, the usage and an `error`
    event. Only message_start, message_delta and error are parsed: every other event goes by unread."""
    usage = Usage()
    async for event in events:
        kind = event.name
        if kind == "content_block_delta":
            exchange.first_token()
        elif kind in ("message_start", "message_delta"):
            data = event.data()
            holder = data.get("message") if kind == "message_start" and isinstance(data, dict) else data
            found = holder.get("usage") if isinstance(holder, dict) else None
            if isinstance(found, dict):
                usage = Usage.from_messages(cast(MessagesUsage, found), usage)
                exchange.note_usage(usage.counts())
            delta = data.get("delta") if kind == "message_delta" and isinstance(data, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                exchange.finish_reason = delta["stop_reason"]
        elif kind == "error":  # Anthropic's error event, mid-stream: noted by its kind, passed on as it came
            exchange.fail(error_from_messages(500, None, orjson.dumps(event.data())))
        yield event
