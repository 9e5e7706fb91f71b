"""Anthropic Messages request bodies, checked as far as Quarry needs; content blocks stay JSON so that the
Claude path can send them to Bedrock exactly as written.

The blocks are checked in place, not converted: each field Quarry (or either upstream shape) reads from a known
block type must have its JSON type, so a caller's mistake is a 400 naming the field, never a crash further in.
Unknown block types and unknown fields pass untouched, for Claude to judge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quarry.api._core import AnthropicServiceTier
from quarry.errors import InvalidRequest

__all__ = ["CountTokensRequest", "Envelope", "Message", "MessagesRequest", "ToolChoice"]

Block = dict[str, Any]
_Kinds = type | tuple[type, ...]

# The fields read from each block type: (JSON type, required).
_STR, _OBJ = (str, True), (dict, True)
_BLOCK_FIELDS: dict[str, dict[str, tuple[_Kinds, bool]]] = {
    "text": {"text": _STR},
    "image": {"source": _OBJ},
    "document": {"source": _OBJ, "title": (str, False)},
    "tool_use": {"id": _STR, "name": _STR, "input": _OBJ},
    "tool_result": {"tool_use_id": _STR, "content": ((str, list), False), "is_error": (bool, False)},
    "thinking": {"thinking": _STR, "signature": (str, False)},
    "redacted_thinking": {"data": _STR},
}
_SOURCE_FIELDS: dict[str, dict[str, tuple[_Kinds, bool]]] = {
    "base64": {"media_type": _STR, "data": _STR},
    "url": {"url": _STR},
    "text": {"media_type": (str, False), "data": _STR},
    "content": {"content": ((str, list), True)},
}
_TOOL_FIELDS: dict[str, tuple[_Kinds, bool]] = {
    "type": (str, False), "name": (str, False), "description": (str, False), "input_schema": (dict, False),
}  # fmt: skip
_THINKING_FIELDS: dict[str, tuple[_Kinds, bool]] = {"type": _STR, "budget_tokens": (int, False)}
_NAMES = {str: "a string", dict: "an object", list: "an array", bool: "a boolean", int: "an integer"}


def _as_tuple(kinds: _Kinds) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _refuse(where: str, kinds: _Kinds) -> InvalidRequest:
    names = " or ".join(_NAMES[kind] for kind in _as_tuple(kinds))
    return InvalidRequest(f"{where}: must be {names}.", param=where)


def _check_fields(value: Block, fields: dict[str, tuple[_Kinds, bool]], where: str) -> None:
    for key, (kinds, required) in fields.items():
        field = value.get(key)
        if field is None and not required:
            continue
        # JSON's true and false are not numbers, whatever Python's bool says.
        if not isinstance(field, kinds) or (isinstance(field, bool) and bool not in _as_tuple(kinds)):
            raise _refuse(f"{where}.{key}", kinds)


def _check_block(block: object, where: str) -> None:
    if not isinstance(block, dict):
        raise _refuse(where, dict)
    kind = block.get("type")
    if not isinstance(kind, str):
        raise _refuse(f"{where}.type", str)
    _check_fields(block, _BLOCK_FIELDS.get(kind, {}), where)
    if block.get("cache_control") is not None and not isinstance(block["cache_control"], dict):
        raise _refuse(f"{where}.cache_control", dict)
    source = block.get("source")
    if kind in ("image", "document") and isinstance(source, dict):
        if not isinstance(source.get("type"), str):
            raise _refuse(f"{where}.source.type", str)
        _check_fields(source, _SOURCE_FIELDS.get(source["type"], {}), f"{where}.source")
    nested = block.get("content") if kind == "tool_result" else None
    for i, part in enumerate(nested if isinstance(nested, list) else ()):
        _check_block(part, f"{where}.content.{i}")


def _check_blocks(content: str | list[Block], where: str) -> None:
    for i, block in enumerate(content if isinstance(content, list) else ()):
        _check_block(block, f"{where}.{i}")


class Envelope(BaseModel):
    """What Quarry reads of a Messages request before it knows the model. Bedrock's Messages endpoint judges the
    rest of a request forwarded to it; for the other models the whole request is checked next."""

    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    service_tier: AnthropicServiceTier | None = None  # Bedrock's service tier, by the core's mapping


class Message(BaseModel):
    # `system`: a mid-conversation system message, carried in the form the model takes (api._core's
    # fold_system_messages for a model that does not take the role).
    role: Literal["user", "assistant", "system"]
    content: str | list[Block]


class ToolChoice(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class CountTokensRequest(BaseModel):
    """What `/v1/messages/count_tokens` takes; unknown fields are kept and judged later."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[Message] = Field(min_length=1)
    system: str | list[Block] | None = None
    tools: list[Block] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Block | None = None
    output_config: Block | None = None
    output_format: Block | None = None  # the structured-outputs beta's name for output_config.format
    context_management: Block | None = None

    # InvalidRequest is not a ValueError, so pydantic lets it through as it is: the 400 names the exact field
    # (`messages.2.content.0.content`), which a pydantic error raised from here could not.
    @model_validator(mode="after")
    def _check_read_fields(self) -> CountTokensRequest:
        for i, message in enumerate(self.messages):
            _check_blocks(message.content, f"messages.{i}.content")
        for i, block in enumerate(self.system if isinstance(self.system, list) else ()):
            _check_block(block, f"system.{i}")
            if block["type"] != "text":
                raise InvalidRequest(f"system.{i}: the system prompt takes text blocks only.", param=f"system.{i}")
        for i, tool in enumerate(self.tools or ()):
            _check_fields(tool, _TOOL_FIELDS, f"tools.{i}")
            if tool.get("type") in (None, "custom") and tool.get("name") is None:
                raise _refuse(f"tools.{i}.name", str)
        if self.thinking is not None:
            _check_fields(self.thinking, _THINKING_FIELDS, "thinking")
        return self


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    metadata: Block | None = None
    stream: bool = False
