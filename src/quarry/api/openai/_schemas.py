"""The OpenAI request shapes Quarry reads. Unknown fields are kept, not refused, as OpenAI's clients expect.

Content parts, thinking blocks and the `thinking` setting stay plain dicts (their many shapes are translated
later), but each field Quarry reads from them is checked for its JSON type here: a caller's mistake is a 400
naming the field, never a crash deeper in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from quarry.api._core import OpenAIServiceTier
from quarry.errors import InvalidRequest

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "CompletionRequest",
    "EmbeddingRequest",
    "FunctionCall",
    "ResponseFormat",
    "Tool",
    "ToolCall",
]


_Kinds = type | tuple[type, ...]
_NAMES = {str: "a string", dict: "an object", int: "an integer"}
# The fields read from each content part type, thinking block and `thinking` setting: (JSON type, required).
_PART_FIELDS: dict[str, dict[str, tuple[_Kinds, bool]]] = {
    "text": {"text": (str, True)},
    "image_url": {"image_url": ((str, dict), True)},
}
_THINKING_BLOCK_FIELDS: dict[str, tuple[_Kinds, bool]] = {
    "type": (str, False), "thinking": (str, False), "signature": (str, False), "data": (str, False),
}  # fmt: skip
_THINKING_FIELDS: dict[str, tuple[_Kinds, bool]] = {"type": (str, True), "budget_tokens": (int, False)}


def _check(value: dict[str, Any], fields: dict[str, tuple[_Kinds, bool]], where: str) -> None:
    for key, (kinds, required) in fields.items():
        field = value.get(key)
        if field is None and not required:
            continue
        # JSON's true and false are not numbers, whatever Python's bool says.
        if not isinstance(field, kinds) or isinstance(field, bool):
            names = " or ".join(_NAMES[kind] for kind in (kinds if isinstance(kinds, tuple) else (kinds,)))
            raise InvalidRequest(f"Invalid value for `{where}.{key}`: must be {names}.", param=f"{where}.{key}")


def _check_part(part: dict[str, Any], where: str) -> None:
    kind = part.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"Invalid value for `{where}.type`: must be a string.", param=f"{where}.type")
    _check(part, _PART_FIELDS.get(kind, {}) | {"cache_control": (dict, False)}, where)
    image = part.get("image_url")
    if kind == "image_url" and isinstance(image, dict):
        _check(image, {"url": (str, True)}, f"{where}.image_url")


def _check_thinking(thinking: object, where: str) -> None:
    if not isinstance(thinking, dict):
        raise InvalidRequest(f"Invalid value for `{where}`: must be an object.", param=where)
    _check(thinking, _THINKING_FIELDS, where)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionCall(_Open):
    name: str
    arguments: str | dict[str, Any] | None = None


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # Parts stay plain dicts: their many types are checked where they are translated, with precise errors.
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    thinking_blocks: list[dict[str, Any]] | None = None
    cache_control: dict[str, Any] | None = None


class FunctionDefinition(_Open):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(_Open):
    name: str


class NamedToolChoice(_Open):
    type: Literal["function"] = "function"
    function: NamedFunction


class JsonSchemaFormat(_Open):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Open):
    include_usage: bool = False


class ChatCompletionRequest(_Open):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    # openai-python's ReasoningEffort (docs/bedrock-models-2026.md §6); the core maps it per model.
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    thinking: dict[str, Any] | None = None
    n: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    seed: int | None = None
    additional_model_request_fields: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None  # bedrock-access-gateway's spelling of the passthrough
    service_tier: OpenAIServiceTier | None = None  # Bedrock's service tier, by the core's mapping

    # InvalidRequest is not a ValueError, so pydantic lets it through as it is: the 400 names the exact field
    # (`messages[1].content[0].text`), which a pydantic error raised from here could not.
    @model_validator(mode="after")
    def _check_read_fields(self) -> ChatCompletionRequest:
        for i, message in enumerate(self.messages):
            for n, part in enumerate(message.content if isinstance(message.content, list) else ()):
                _check_part(part, f"messages[{i}].content[{n}]")
            for n, block in enumerate(message.thinking_blocks or ()):
                _check(block, _THINKING_BLOCK_FIELDS, f"messages[{i}].thinking_blocks[{n}]")
        if self.thinking is not None:
            _check_thinking(self.thinking, "thinking")
        # The passthrough fields join the request's own; Quarry reads the thinking setting and Nova's inferenceConfig
        # among them.
        for name, fields in (("extra_body", self.extra_body), ("additional_model_request_fields",
                                                               self.additional_model_request_fields)):  # fmt: skip
            if fields and fields.get("thinking") is not None:
                _check_thinking(fields["thinking"], f"{name}.thinking")
            if fields and fields.get("inferenceConfig") is not None and not isinstance(fields["inferenceConfig"], dict):
                raise InvalidRequest(
                    f"Invalid value for `{name}.inferenceConfig`: must be an object.", param=f"{name}.inferenceConfig"
                )
        return self


# Token ids are strict: JSON's true, 1.5 and "7" are no token, whatever lax parsing would make of them.
Tokens = list[StrictInt]


def _texts_or_tokens(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """One 400 for a value none of the four shapes takes, rather than pydantic's error for the last it tried."""
    try:
        return handler(value)
    except ValidationError:
        field = str(info.field_name)
        raise InvalidRequest(
            f"Invalid value for `{field}`: must be a string, a list of strings, a token array (a list of integers) "
            "or a list of token arrays.",
            param=field,
        ) from None


class CompletionRequest(_Open):
    """OpenAI's legacy text completion (`POST /v1/completions`): each prompt becomes one user message."""

    model: str
    prompt: str | list[str] | Tokens | list[Tokens]
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    echo: bool | None = None
    suffix: str | None = None
    logprobs: int | None = None
    best_of: int | None = Field(default=None, ge=1)
    seed: int | None = None
    user: str | None = None

    _check_prompt = field_validator("prompt", mode="wrap")(_texts_or_tokens)


class EmbeddingRequest(_Open):
    model: str
    input: str | list[str] | Tokens | list[Tokens]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    _check_input = field_validator("input", mode="wrap")(_texts_or_tokens)
