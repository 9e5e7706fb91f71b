"""Upstream streams watched for the request's Exchange: events passed on untouched, noting the first token and the
usage as they go by (the record itself, `quarry.exchange`, knows no Bedrock shape)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from quarry.exchange import Exchange

__all__ = ["watch_anthropic", "watch_converse"]


async def watch_converse(events: AsyncIterator[dict[str, Any]], exchange: Exchange) -> AsyncIterator[dict[str, Any]]:
    """ConverseStream events, passed on untouched, noting the first token and the usage."""
    async for event in events:
        if "contentBlockDelta" in event:
            exchange.first_token()
        elif "metadata" in event:
            exchange.converse_usage(event["metadata"].get("usage", {}))
        yield event


async def watch_anthropic(events: AsyncIterator[dict[str, Any]], exchange: Exchange) -> AsyncIterator[dict[str, Any]]:
    """Anthropic stream events (Claude on InvokeModel), passed on untouched, noting the first token and usage."""
    async for event in events:
        kind = event.get("type")
        if kind == "content_block_delta":
            exchange.first_token()
        elif kind == "message_start":
            exchange.anthropic_usage(event.get("message", {}).get("usage", {}))
        elif kind == "message_delta":
            exchange.anthropic_usage(event.get("usage", {}))
        yield event
