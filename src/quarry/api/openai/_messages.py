"""OpenAI chat messages → Converse `system` and `messages`, normalised so Bedrock accepts the history."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from quarry.api._history import CACHE_POINT, ConverseHistory, normalise
from quarry.api.openai._schemas import ChatMessage
from quarry.errors import InvalidRequest

__all__ = ["ImageLoader", "to_converse"]

ImageLoader = Callable[[str], Awaitable[tuple[str, bytes]]]  # url → (format, bytes)


def _text_of(content: str | list[dict[str, Any]] | None, where: str) -> list[dict[str, Any]]:
    """Text blocks of a system, developer or tool message (text parts only)."""
    if content is None or isinstance(content, str):
        return [{"text": content}] if content and content.strip() else []
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidRequest(f"{where}.content[{i}] must be a text part here.", param=f"{where}.content")
        if part["text"].strip():
            blocks.append({"text": part["text"]})
        if part.get("cache_control"):
            blocks.append(CACHE_POINT)
    return blocks


async def _user_blocks(
    content: str | list[dict[str, Any]] | None, where: str, load: ImageLoader
) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return [{"text": content}] if content and content.strip() else []
    slots: list[Any] = []
    for i, part in enumerate(content):
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            slots.append({"text": part["text"]} if part["text"].strip() else None)
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise InvalidRequest(f"{where}.content[{i}].image_url.url is required.", param=f"{where}.content")
            slots.append(load(url))
        else:
            raise InvalidRequest(
                f"{where}.content[{i}]: content parts of type `{kind}` are not supported; use text and image_url.",
                param=f"{where}.content",
            )
        if part.get("cache_control"):
            slots.append(CACHE_POINT)
    pending = [slot for slot in slots if asyncio.iscoroutine(slot)]
    loaded = iter(await asyncio.gather(*pending)) if pending else iter(())
    blocks: list[dict[str, Any]] = []
    for slot in slots:
        if asyncio.iscoroutine(slot):
            fmt, data = next(loaded)
            blocks.append({"image": {"format": fmt, "source": {"bytes": base64.b64encode(data).decode()}}})
        elif slot is not None:
            blocks.append(slot)
    return blocks


def _arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
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


def _assistant_blocks(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for thinking in message.thinking_blocks or ():
        if thinking.get("type") == "redacted_thinking" and thinking.get("data"):
            blocks.append({"reasoningContent": {"redactedContent": thinking["data"]}})
        elif thinking.get("thinking") and thinking.get("signature"):
            text = {"text": thinking["thinking"], "signature": thinking["signature"]}
            blocks.append({"reasoningContent": {"reasoningText": text}})
    blocks.extend(_text_of(message.content, where))
    for call in message.tool_calls or ():
        use = {"toolUseId": call.id, "name": call.function.name, "input": _arguments(call.function.arguments)}
        blocks.append({"toolUse": use})
    return blocks


def _tool_result(message: ChatMessage, where: str) -> dict[str, Any]:
    if not message.tool_call_id and message.role == "tool":
        raise InvalidRequest(f"{where}.tool_call_id is required for tool messages.", param=f"{where}.tool_call_id")
    content = _text_of(message.content, where) or [{"text": "(empty)"}]
    tool_id = message.tool_call_id or message.name or "function"
    return {"toolResult": {"toolUseId": tool_id, "content": [b for b in content if "text" in b]}}


async def to_converse(messages: list[ChatMessage], load: ImageLoader) -> ConverseHistory:
    """Translate and normalise; raises InvalidRequest naming the message at fault."""
    history = ConverseHistory()
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role in ("system", "developer"):
            history.system.extend(_text_of(message.content, where))
            if message.cache_control:
                history.system.append(CACHE_POINT)
            continue
        if message.role == "user":
            role, blocks = "user", await _user_blocks(message.content, where, load)
        elif message.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(message, where)
        else:
            role, blocks = "user", [_tool_result(message, where)]
        if message.cache_control and blocks:
            blocks.append(CACHE_POINT)
        if blocks:
            turns.append((role, blocks))
    history.messages = normalise(turns)
    if not history.messages:
        raise InvalidRequest("messages must contain at least one non-empty user message.", param="messages")
    return history
