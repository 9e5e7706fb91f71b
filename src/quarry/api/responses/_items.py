"""Input items as Quarry keeps them (a stored response's input_items, a conversation's items): each with an id, and
messages in the shape OpenAI lists them (ResponseInputMessageItem: typed, text content as parts, a status)."""

from __future__ import annotations

from typing import Any

from quarry.api.responses._input import Items
from quarry.api.responses._render import new_id
from quarry.errors import InvalidRequest

__all__ = ["input_items", "listed"]

_ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


def input_items(given: str | list[Any], where: str = "input") -> Items:
    """The request's input as items, each with an id (as input_items lists them)."""
    if isinstance(given, str):
        given = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": given}]}]
    items: Items = []
    for n, item in enumerate(given):
        if not isinstance(item, dict):
            raise InvalidRequest(f"Invalid value for `{where}[{n}]`: must be an object.", param=f"{where}[{n}]")
        kind = item.get("type", "message")
        if "id" not in item:
            item = {"id": new_id(_ITEM_PREFIXES.get(str(kind), "item")), **item}
        items.append(listed(item) if kind == "message" else item)
    return items


def listed(message: dict[str, Any]) -> dict[str, Any]:
    """A message as input_items lists it (ResponseInputMessageItem): typed, text content as parts."""
    content = message.get("content")
    if isinstance(content, str):
        part = "output_text" if message.get("role") == "assistant" else "input_text"
        content = [{"type": part, "text": content}]
    return {**message, "type": "message", "content": content, "status": message.get("status", "completed")}
