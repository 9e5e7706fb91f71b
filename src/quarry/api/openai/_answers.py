"""The OpenAI dialect's answers as the published OpenAPI document describes them: a chat completion, a legacy text
completion and an embeddings list. `_render`, `_text` and `_embeddings` write these bodies as dicts (orjson, no model
on the hot path); these models only describe them, and tests/api/test_openapi.py checks real answers against what is
published.

Open (extra fields allowed): Quarry adds fields of its own (`sources`, `reasoning_content`, `thinking_blocks`), and a
client validating against the schema must not break on them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ChatCompletion", "EmbeddingList", "TextCompletion"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _FunctionCall(_Open):
    name: str
    arguments: str


class _ToolCall(_Open):
    id: str
    type: Literal["function"]
    function: _FunctionCall


class _AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | None
    refusal: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(_Open):
    index: int
    message: _AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"] | None


class _PromptDetails(_Open):
    cached_tokens: int


class _Usage(_Open):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: _PromptDetails | None = None


class ChatCompletion(_Open):
    """A whole chat completion (`stream` false); a stream sends `chat.completion.chunk` events instead."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    service_tier: str | None = None  # the Bedrock tier that served the call, in OpenAI's name for it
    choices: list[_Choice]
    usage: _Usage


class _TextChoice(_Open):
    text: str
    index: int
    logprobs: None = None
    finish_reason: Literal["stop", "length", "content_filter"] | None


class TextCompletion(_Open):
    """A legacy text completion; a stream sends objects of the same shape, `usage` only on the last."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[_TextChoice]
    usage: _Usage | None = None


class _Embedding(_Open):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str  # a string when `encoding_format` is base64


class _EmbeddingUsage(_Open):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(_Open):
    object: Literal["list"]
    data: list[_Embedding]
    model: str
    usage: _EmbeddingUsage
