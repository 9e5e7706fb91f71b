"""OpenAI chat messages → Converse `system` and `messages`, normalised so Bedrock accepts the history."""

from __future__ import annotations

from typing import Any

import orjson

from quarry.api._core import (
    ConverseHistory,
    ImageLoader,
    Media,
    cache_point,
    normalise,
    redacted_reasoning,
    signed_reasoning,
)
from quarry.api.openai._schemas import ChatMessage
from quarry.bedrock import ContentBlock, Document, Role, SystemContentBlock, ToolResultContentBlock
from quarry.errors import InvalidRequest

__all__ = ["ConverseHistory", "ImageLoader", "to_converse"]

Parts = str | list[dict[str, Any]] | None  # a message's content as the schema keeps it: checked here, part by part


def _text_of(content: Parts, where: str) -> list[ContentBlock]:
    """Text blocks of a system, developer or tool message (text parts only)."""
    if content is None or isinstance(content, str):
        return [{"text": content}] if content and content.strip() else []
    blocks: list[ContentBlock] = []
    for i, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidRequest(f"{where}.content[{i}] must be a text part here.", param=f"{where}.content")
        if part["text"].strip():
            blocks.append({"text": part["text"]})
        if part.get("cache_control"):
            blocks.append({"cachePoint": cache_point()})
    return blocks


def _system(blocks: list[ContentBlock]) -> list[SystemContentBlock]:
    return [{"text": b["text"]} if "text" in b else {"cachePoint": b["cachePoint"]} for b in blocks]


def _user_blocks(content: Parts, where: str, media: Media) -> list[ContentBlock]:
    if content is None or isinstance(content, str):
        return [{"text": content}] if content and content.strip() else []
    blocks: list[ContentBlock] = []
    for i, part in enumerate(content):
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"].strip():
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise InvalidRequest(f"{where}.content[{i}].image_url.url is required.", param=f"{where}.content")
            blocks.append({"image": media.image_url(url)})
        else:
            raise InvalidRequest(
                f"{where}.content[{i}]: content parts of type `{kind}` are not supported; use text and image_url.",
                param=f"{where}.content",
            )
        if part.get("cache_control"):
            blocks.append({"cachePoint": cache_point()})
    return blocks


def _arguments(raw: str | Document | None) -> Document:
    # Clients replay whatever the model produced; a broken argument string must not break the history.
    if isinstance(raw, dict):
        return raw
    if not raw or not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"arguments": raw}
    return value if isinstance(value, dict) else {"arguments": value}


def _assistant_blocks(message: ChatMessage, where: str) -> list[ContentBlock]:
    blocks: list[ContentBlock] = []
    for thinking in message.thinking_blocks or ():
        # Clients replay what they were sent; an unsigned block cannot go back to Claude, so it is left out. A signed
        # block with no text is kept: Opus 4.7 and later omit the thinking text by default and sign it all the same
        # (`thinking.display` "omitted", docs/bedrock-models-2026.md §1.3), and the block must come back.
        if thinking.get("type") == "redacted_thinking" and thinking.get("data"):
            blocks.append(redacted_reasoning(thinking["data"]))
        elif thinking.get("signature"):
            blocks.append(signed_reasoning(thinking.get("thinking") or "", thinking["signature"]))
    blocks.extend(_text_of(message.content, where))
    for call in message.tool_calls or ():
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.function.name,
                    "input": _arguments(call.function.arguments),
                }
            }
        )
    return blocks


def _tool_result(message: ChatMessage, where: str) -> ContentBlock:
    if not message.tool_call_id and message.role == "tool":
        raise InvalidRequest(f"{where}.tool_call_id is required for tool messages.", param=f"{where}.tool_call_id")
    content: list[ToolResultContentBlock] = [
        {"text": b["text"]} for b in _text_of(message.content, where) if "text" in b
    ] or [{"text": "(empty)"}]
    tool_id = message.tool_call_id or message.name or "function"
    return {"toolResult": {"toolUseId": tool_id, "content": content}}


async def to_converse(
    messages: list[ChatMessage], load: ImageLoader, *, system_messages: bool = False
) -> ConverseHistory:
    """Translate and normalise; raises InvalidRequest naming the message at fault.

    System and developer messages before the conversation are the system prompt; later ones stay where they are,
    as Converse `system` messages, on models that take them (`system_messages`), and join the system prompt on
    others."""
    history = ConverseHistory()
    media = Media(load)
    turns: list[tuple[Role, list[ContentBlock]]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role in ("system", "developer"):
            blocks = _text_of(message.content, where)
            if message.cache_control:
                blocks.append({"cachePoint": cache_point()})
            if system_messages and turns:
                if any("text" in b for b in blocks):
                    turns.append(("system", blocks))
            else:
                history.system.extend(_system(blocks))
            continue
        role: Role
        if message.role == "user":
            role, blocks = "user", _user_blocks(message.content, where, media)
        elif message.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(message, where)
        else:
            role, blocks = "user", [_tool_result(message, where)]
        if message.cache_control and blocks:
            blocks.append({"cachePoint": cache_point()})
        if blocks:
            turns.append((role, blocks))
    await media.resolve()
    history.messages = normalise(turns)
    if not history.messages:
        raise InvalidRequest("messages must contain at least one non-empty user message.", param="messages")
    return history
