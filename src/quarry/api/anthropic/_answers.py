"""The Anthropic dialect's answers as the published OpenAPI document describes them: a message and a token count.
The routes pass Claude's own answer through (or build one from Converse's), so these models only describe the body;
tests/api/test_openapi.py checks real answers against what is published.

Open, and content blocks checked for their `type` only: Claude's blocks pass through untouched, including kinds
Quarry does not know yet, and a client validating against the schema must not break on them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["AnthropicMessage", "TokenCount"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Block(_Open):
    type: str


class _Usage(_Open):
    input_tokens: int
    output_tokens: int
    service_tier: str | None = None  # the Bedrock tier that served the call, in Anthropic's name for it


class AnthropicMessage(_Open):
    """A whole message (`stream` false); a stream sends Anthropic's named events instead."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[_Block]
    stop_reason: str | None
    stop_sequence: str | None = None
    usage: _Usage


class TokenCount(_Open):
    input_tokens: int
