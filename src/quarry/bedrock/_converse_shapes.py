"""Bedrock's Converse and ConverseStream shapes as JSON on the wire, typed.

Field names follow botocore's service model for bedrock-runtime (botocore/data/bedrock-runtime/2023-09-30/
service-2.json: ConverseRequest, ContentBlock, ConverseResponse, ConverseStreamOutput, …), restricted to the
members Quarry writes or reads. Blobs (`bytes`, `redactedContent`) travel as base64 strings in the JSON protocol.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from quarry.bedrock._guardrail_shapes import GuardrailStreamConfiguration, GuardrailTraceAssessment

__all__ = [
    "SERVICE_TIERS",
    "CachePointBlock",
    "ContentBlock",
    "ContentBlockDelta",
    "ContentBlockDeltaEvent",
    "ContentBlockStart",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "ConverseMessage",
    "ConverseRequest",
    "ConverseResponse",
    "ConverseStreamEvent",
    "ConverseStreamMetadataEvent",
    "ConverseTokensRequest",
    "ConverseTrace",
    "CountTokensInput",
    "Document",
    "DocumentBlock",
    "DocumentFormat",
    "ImageBlock",
    "ImageFormat",
    "InferenceConfiguration",
    "InvokeModelTokensRequest",
    "JsonSchemaDefinition",
    "MessageStartEvent",
    "MessageStopEvent",
    "OutputConfig",
    "ReasoningContentBlock",
    "ReasoningContentBlockDelta",
    "Role",
    "ServiceTier",
    "ServiceTierType",
    "StopReason",
    "SystemContentBlock",
    "TokenUsage",
    "Tool",
    "ToolChoice",
    "ToolConfiguration",
    "ToolResultBlock",
    "ToolResultContentBlock",
    "ToolSpecification",
    "ToolUseBlock",
]

# The service model's `Document` type: free JSON (tool inputs, JSON schemas, model-specific request fields).
Document: TypeAlias = dict[str, Any]

# `system`: a system message inside the conversation, on the models that take them (ConversationRole, 2026-05-28).
Role = Literal["user", "assistant", "system"]
ImageFormat = Literal["png", "jpeg", "gif", "webp"]
DocumentFormat = Literal["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"]
StopReason = Literal[
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "malformed_model_output",
    "malformed_tool_use",
    "model_context_window_exceeded",
]


class _Empty(TypedDict):
    """`{}`: the AutoToolChoice and AnyToolChoice members."""


class CachePointBlock(TypedDict):
    type: Literal["default"]
    ttl: NotRequired[str]


class _Bytes(TypedDict):
    bytes: str  # base64


class ImageBlock(TypedDict):
    format: ImageFormat
    source: _Bytes


class DocumentSource(TypedDict, total=False):
    bytes: str  # base64
    text: str


class DocumentBlock(TypedDict):
    format: NotRequired[DocumentFormat]
    name: str
    source: DocumentSource


class ToolUseBlock(TypedDict):
    toolUseId: str
    name: str
    input: Document


class ToolResultContentBlock(TypedDict, total=False):
    text: str
    json: Document
    image: ImageBlock
    document: DocumentBlock


class ToolResultBlock(TypedDict):
    toolUseId: str
    content: list[ToolResultContentBlock]
    status: NotRequired[Literal["success", "error"]]


class ReasoningTextBlock(TypedDict):
    text: str
    signature: NotRequired[str]


class ReasoningContentBlock(TypedDict, total=False):
    reasoningText: ReasoningTextBlock
    redactedContent: str  # base64


class ContentBlock(TypedDict, total=False):
    """One member set, as the service model's union: `{"text": …}`, `{"toolUse": …}`, …"""

    text: str
    image: ImageBlock
    document: DocumentBlock
    toolUse: ToolUseBlock
    toolResult: ToolResultBlock
    reasoningContent: ReasoningContentBlock
    cachePoint: CachePointBlock


class SystemContentBlock(TypedDict, total=False):
    text: str
    cachePoint: CachePointBlock


class ConverseMessage(TypedDict):
    role: Role
    content: list[ContentBlock]


class InferenceConfiguration(TypedDict, total=False):
    maxTokens: int
    temperature: float
    topP: float
    stopSequences: list[str]


class _InputSchema(TypedDict):
    json: Document


class ToolSpecification(TypedDict):
    name: str
    description: NotRequired[str]
    inputSchema: _InputSchema


class Tool(TypedDict, total=False):
    toolSpec: ToolSpecification
    cachePoint: CachePointBlock


class _NamedTool(TypedDict):
    name: str


class ToolChoice(TypedDict, total=False):
    auto: _Empty
    any: _Empty
    tool: _NamedTool


class ToolConfiguration(TypedDict):
    tools: list[Tool]
    toolChoice: NotRequired[ToolChoice]


class JsonSchemaDefinition(TypedDict):
    schema: str  # the JSON schema, serialised
    name: NotRequired[str]
    description: NotRequired[str]


class _OutputFormatStructure(TypedDict):
    jsonSchema: JsonSchemaDefinition


class _OutputFormat(TypedDict):
    type: Literal["json_schema"]
    structure: _OutputFormatStructure


class OutputConfig(TypedDict, total=False):
    textFormat: _OutputFormat
    effort: str  # low, medium, high, xhigh, max (botocore's OutputConfigEffortString, added 2026-07-31)


# botocore's ServiceTierType (API_runtime_ServiceTier): the tier that serves a call; none asked is `default`.
ServiceTierType = Literal["priority", "default", "flex", "reserved"]
SERVICE_TIERS: tuple[ServiceTierType, ...] = ("priority", "default", "flex", "reserved")


class ServiceTier(TypedDict):
    type: ServiceTierType


class ConverseRequest(TypedDict, total=False):
    """The Converse body (the model id travels in the path)."""

    messages: list[ConverseMessage]
    system: list[SystemContentBlock]
    inferenceConfig: InferenceConfiguration
    toolConfig: ToolConfiguration
    additionalModelRequestFields: Document
    outputConfig: OutputConfig
    guardrailConfig: GuardrailStreamConfiguration  # Converse takes the same without streamProcessingMode
    serviceTier: ServiceTier


class TokenUsage(TypedDict, total=False):
    inputTokens: int
    outputTokens: int
    totalTokens: int
    cacheReadInputTokens: int
    cacheWriteInputTokens: int


class _ConverseOutput(TypedDict, total=False):
    message: ConverseMessage


class ConverseTrace(TypedDict, total=False):
    guardrail: GuardrailTraceAssessment


class ConverseResponse(TypedDict, total=False):
    output: _ConverseOutput
    stopReason: StopReason
    usage: TokenUsage
    metrics: Document
    additionalModelResponseFields: Document
    trace: ConverseTrace
    serviceTier: ServiceTier  # the tier that served the call


class MessageStartEvent(TypedDict):
    role: Role


class _ToolUseStart(TypedDict):
    toolUseId: str
    name: str


class ContentBlockStart(TypedDict, total=False):
    toolUse: _ToolUseStart


class ContentBlockStartEvent(TypedDict):
    start: ContentBlockStart
    contentBlockIndex: int


class ReasoningContentBlockDelta(TypedDict, total=False):
    text: str
    redactedContent: str
    signature: str


class _ToolUseDelta(TypedDict):
    input: str  # a fragment of the tool input's JSON


class ContentBlockDelta(TypedDict, total=False):
    text: str
    toolUse: _ToolUseDelta
    reasoningContent: ReasoningContentBlockDelta


class ContentBlockDeltaEvent(TypedDict):
    delta: ContentBlockDelta
    contentBlockIndex: int


class ContentBlockStopEvent(TypedDict):
    contentBlockIndex: int


class MessageStopEvent(TypedDict):
    stopReason: StopReason
    additionalModelResponseFields: NotRequired[Document]


class ConverseStreamMetadataEvent(TypedDict):
    usage: TokenUsage
    metrics: NotRequired[Document]
    trace: NotRequired[ConverseTrace]
    serviceTier: NotRequired[ServiceTier]


class ConverseStreamEvent(TypedDict, total=False):
    """One ConverseStream event: exactly one member set."""

    messageStart: MessageStartEvent
    contentBlockStart: ContentBlockStartEvent
    contentBlockDelta: ContentBlockDeltaEvent
    contentBlockStop: ContentBlockStopEvent
    messageStop: MessageStopEvent
    metadata: ConverseStreamMetadataEvent


class ConverseTokensRequest(TypedDict, total=False):
    """What CountTokens counts of a Converse request."""

    messages: list[ConverseMessage]
    system: list[SystemContentBlock]
    toolConfig: ToolConfiguration
    additionalModelRequestFields: Document


class InvokeModelTokensRequest(TypedDict):
    body: str  # base64 of the InvokeModel body


class CountTokensInput(TypedDict, total=False):
    """CountTokens' `input`: exactly one member set."""

    converse: ConverseTokensRequest
    invokeModel: InvokeModelTokensRequest
