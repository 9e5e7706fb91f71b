"""Anthropic's Messages shapes as Bedrock takes and gives them for Claude (InvokeModel, and its Messages endpoint).

The body is Anthropic's Messages request with `anthropic_version` in place of `model` and `stream`, and betas in an
`anthropic_beta` list: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
Responses and stream events are Anthropic's own: https://docs.anthropic.com/en/api/messages and
https://platform.claude.com/docs/build-with-claude/streaming. Content blocks Quarry passes through untouched
(documents, search results, server tools, …) stay `Document`s.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypeAlias, TypedDict

from quarry.bedrock._converse_shapes import Document

__all__ = [
    "BEDROCK_ANTHROPIC_VERSION",
    "MessagesBase64Source",
    "MessagesBlock",
    "MessagesBody",
    "MessagesDelta",
    "MessagesMessage",
    "MessagesRedactedThinkingBlock",
    "MessagesResponse",
    "MessagesStopReason",
    "MessagesStreamEvent",
    "MessagesTextBlock",
    "MessagesThinking",
    "MessagesThinkingBlock",
    "MessagesToolUseBlock",
    "MessagesUsage",
]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"

MessagesStopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"
]


class MessagesTextBlock(TypedDict):
    type: Literal["text"]
    text: str


class MessagesBase64Source(TypedDict):
    type: Literal["base64"]
    media_type: str
    data: str


class MessagesThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class MessagesRedactedThinkingBlock(TypedDict):
    type: Literal["redacted_thinking"]
    data: str


class MessagesToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: Document


# What a response's content holds; a request's content may hold any block, kept as the caller wrote it.
MessagesBlock: TypeAlias = (
    MessagesTextBlock | MessagesThinkingBlock | MessagesRedactedThinkingBlock | MessagesToolUseBlock
)


class MessagesMessage(TypedDict):
    role: Literal["user", "assistant"]
    content: str | list[Document]


class MessagesThinking(TypedDict):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: NotRequired[int]


class MessagesBody(TypedDict, total=False):
    """The InvokeModel body for Claude."""

    anthropic_version: str
    anthropic_beta: list[str]
    max_tokens: int
    messages: list[MessagesMessage]
    system: str | list[Document]
    stop_sequences: list[str]
    temperature: float
    top_p: float
    top_k: int
    tools: list[Document]
    tool_choice: Document
    thinking: MessagesThinking
    output_config: Document
    context_management: Document


class MessagesUsage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: NotRequired[int | None]
    cache_read_input_tokens: NotRequired[int | None]
    service_tier: NotRequired[str]  # standard, priority, batch (Anthropic's); Quarry names Bedrock's flex as itself


class MessagesResponse(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[MessagesBlock]
    stop_reason: MessagesStopReason | None
    stop_sequence: str | None
    usage: MessagesUsage


class _StopDelta(TypedDict):
    stop_reason: MessagesStopReason | None
    stop_sequence: str | None


class MessagesDelta(TypedDict, total=False):
    """A content_block_delta's `delta`: text_delta, input_json_delta, thinking_delta or signature_delta."""

    type: Literal["text_delta", "input_json_delta", "thinking_delta", "signature_delta"]
    text: str
    partial_json: str
    thinking: str
    signature: str


class MessagesStreamEvent(TypedDict, total=False):
    """One stream event, by `type`: message_start (`message`), content_block_start (`index`, `content_block`),
    content_block_delta (`index`, `delta`), content_block_stop (`index`), message_delta (`delta`, `usage`),
    message_stop, ping."""

    type: Literal[
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    ]
    message: MessagesResponse
    index: int
    content_block: MessagesBlock
    delta: MessagesDelta | _StopDelta
    usage: MessagesUsage
