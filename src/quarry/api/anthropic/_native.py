"""Claude's own path: the Messages body sent to InvokeModel as written, less what Bedrock refuses, and Bedrock's
stream events re-emitted as Anthropic's SSE.

Bedrock takes Anthropic's body with `anthropic_version: bedrock-2023-05-31` in place of `model` and `stream`,
betas in an `anthropic_beta` list instead of a header (only those it knows), and base64 media only.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Iterator
from typing import Any

from quarry.api._core import ImageLoader, Media, messages_sampling
from quarry.api._sse import named_event
from quarry.bedrock import (
    BEDROCK_ANTHROPIC_VERSION,
    Document,
    ImageFormat,
    MessagesBody,
    MessagesMessage,
    MessagesResponse,
    MessagesStreamEvent,
    ModelFacts,
)
from quarry.errors import InvalidRequest

__all__ = ["PING", "betas", "inline_image_urls", "native_body", "sse_renderer"]

PING = b'event: ping\ndata: {"type": "ping"}\n\n'
# The body fields Bedrock takes for Claude; the rest (`model`, `stream`, `metadata`, `service_tier`,
# `container`, `mcp_servers`, …) has no meaning there and would make Bedrock refuse the request.
_BODY_FIELDS = (
    "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p", "top_k", "tools",
    "tool_choice", "thinking", "output_config", "context_management",
)  # fmt: skip
_BEDROCK_SOURCES = ("base64", "text", "content")  # media inline, plain-text and content-block documents
_RENAMED_BETAS = {"advanced-tool-use-2025-11-20": "tool-search-tool-2025-10-19"}
# Tools that Anthropic runs on its own servers; Bedrock has no such servers.
_HOSTED_TOOLS = ("web_search_", "web_fetch_", "code_execution_", "mcp_toolset")


def betas(header: str | None, body_betas: Any, accepted: Collection[str]) -> list[str]:
    """The `anthropic-beta` flags (header, comma-separated, and any in the body) that Bedrock accepts."""
    wanted = [part.strip() for part in (header or "").split(",")]
    if isinstance(body_betas, list):
        wanted += [str(part) for part in body_betas]
    flags = [_RENAMED_BETAS.get(flag, flag) for flag in wanted if flag]
    return [flag for flag in dict.fromkeys(flags) if flag in accepted]


async def native_body(raw: Document, beta_flags: list[str], facts: ModelFacts, load_image: ImageLoader) -> MessagesBody:
    """The InvokeModel body for a (validated) Messages request."""
    body: MessagesBody = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    if beta_flags:
        body["anthropic_beta"] = beta_flags
    # The request was validated by its schema; its fields go to Bedrock as the caller wrote them.
    body.update({key: raw[key] for key in _BODY_FIELDS if raw.get(key) is not None})  # type: ignore[typeddict-item]
    messages_sampling(facts, body)
    if isinstance(raw.get("output_format"), dict):  # the structured-outputs beta's name for output_config.format
        body["output_config"] = {**body.get("output_config", {}), "format": raw["output_format"]}
    for i, tool in enumerate(body.get("tools") or ()):
        kind = str(tool.get("type") or "custom")
        if kind.startswith(_HOSTED_TOOLS):
            raise InvalidRequest(
                f"tools.{i}: `{kind}` runs on Anthropic's own servers and is not available on Amazon Bedrock.",
                param=f"tools.{i}",
            )
    media = Media(load_image)
    _inline_media(body["messages"], media)
    await media.resolve()
    return body


def _sourced_blocks(messages: list[MessagesMessage]) -> Iterator[tuple[str, Document]]:
    """Each content block (and each block inside a tool result) that has a `source`, with where it is."""
    for m, message in enumerate(messages):
        content = message["content"]
        for b, block in enumerate(content if isinstance(content, list) else ()):
            nested = block.get("content") if block.get("type") == "tool_result" else None
            parts = [(f"messages.{m}.content.{b}", block)]
            if isinstance(nested, list):
                parts += [(f"messages.{m}.content.{b}.content.{n}", part) for n, part in enumerate(nested)]
            yield from ((where, part) for where, part in parts if isinstance(part, dict) and "source" in part)


def _inline_media(messages: list[MessagesMessage], media: Media) -> None:
    """Bedrock takes base64 sources only: image URLs are fetched (behind the SSRF guard) and inlined."""
    for where, block in _sourced_blocks(messages):
        source = block["source"]
        kind = source.get("type") if isinstance(source, dict) else None
        if kind in _BEDROCK_SOURCES:
            continue
        if block.get("type") == "image" and kind == "url" and isinstance(source.get("url"), str):
            media.fetch(source["url"], _inliner(block))
            continue
        raise InvalidRequest(
            f"{where}: {block.get('type')} sources of type `{kind}` are not available on Amazon Bedrock; send the "
            "data as base64.",
            param=where,
        )


async def inline_image_urls(messages: Any, load_image: ImageLoader) -> bool:
    """Image blocks whose source is a URL, fetched (behind the SSRF guard, within the request's image limits) and
    made base64, which is all Bedrock takes; every other source is left for Bedrock to judge. Whether any was."""
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("content"), str | list) for m in messages
    ):
        return False  # not a conversation Bedrock will take: its own refusal says why
    media, fetched = Media(load_image), 0
    for _, block in _sourced_blocks(messages):
        source = block["source"]
        url = source.get("url") if isinstance(source, dict) and source.get("type") == "url" else None
        if block.get("type") == "image" and isinstance(url, str):
            media.fetch(url, _inliner(block))
            fetched += 1
    if fetched:
        await media.resolve()
    return fetched > 0


def _inliner(block: Document) -> Callable[[ImageFormat, bytes], None]:
    def inline(fmt: ImageFormat, data: bytes) -> None:
        block["source"] = {"type": "base64", "media_type": f"image/{fmt}", "data": base64.b64encode(data).decode()}

    return inline


def sse_renderer(requested: str, tier: str | None = None) -> Callable[[MessagesStreamEvent], list[bytes]]:
    """Bedrock's Claude stream events as Anthropic sends them, message_start naming the model the caller asked for
    (`requested`) and, given one, the service tier (Anthropic's name for it) in its usage; a ping follows
    message_start, as there."""

    def render(event: MessagesStreamEvent) -> list[bytes]:
        kind = event.get("type", "")
        if kind == "message_stop":
            event = {"type": "message_stop"}  # without Bedrock's `amazon-bedrock-invocationMetrics`
        elif kind == "message_start" and "message" in event:
            message: MessagesResponse = {**event["message"], "model": requested}
            if tier is not None and "usage" in message:
                message["usage"] = {**message["usage"], "service_tier": tier}
            event = {**event, "message": message}
        line = named_event(kind, event)
        return [line, PING] if kind == "message_start" else [line]

    return render
