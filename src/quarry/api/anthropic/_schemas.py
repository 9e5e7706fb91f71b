"""Anthropic Messages request bodies, checked as far as Quarry needs; content blocks stay JSON so that the
Claude path can send them to Bedrock exactly as written."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CountTokensRequest", "Message", "MessagesRequest", "ToolChoice"]

Block = dict[str, Any]


class Message(BaseModel):
    role: Literal["user", "assistant"]
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


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    metadata: Block | None = None
    stream: bool = False
