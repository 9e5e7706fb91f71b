"""The Responses API request Quarry reads (https://platform.openai.com/docs/api-reference/responses/create).

Unknown fields are kept, not refused, as OpenAI's clients expect (Codex sends `client_metadata`, `prompt_cache_key`
and more). Input items and tools stay plain dicts, checked item by item where they are translated, so a caller's
mistake is a 400 naming the exact field (`input[2].content[0].image_url`), never a crash deeper in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from quarry.api._core import OpenAIServiceTier
from quarry.errors import InvalidRequest

__all__ = ["InputTokensRequest", "ReasoningConfig", "ResponsesRequest", "TextConfig", "TextFormat"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextFormat(_Open):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextConfig(_Open):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Open):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None  # the older spelling of `summary`


class InputTokensRequest(_Open):
    """The fields of a request that make up its input: all POST /v1/responses/input_tokens reads."""

    model: str
    # Checked by the validators below rather than by pydantic's unions, whose errors name the union's member
    # (`input.str`) instead of the field.
    input: str | list[Any] = Field(default_factory=list)
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None

    # InvalidRequest is not a ValueError, so pydantic lets it through as it is: the 400 names the field.
    @field_validator("input", mode="before")
    @classmethod
    def _input(cls, value: object) -> object:
        if not isinstance(value, str | list):
            raise InvalidRequest("Invalid value for `input`: must be a string or an array of items.", param="input")
        return value

    @field_validator("tool_choice", mode="before")
    @classmethod
    def _tool_choice(cls, value: object) -> object:
        if value is not None and value not in ("auto", "none", "required") and not isinstance(value, dict):
            raise InvalidRequest(
                "Invalid value for `tool_choice`: must be auto, none, required or an object naming a tool.",
                param="tool_choice",
            )
        return value


class ResponsesRequest(InputTokensRequest):
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stream: StrictBool = False
    store: StrictBool = True
    background: StrictBool = False
    include: list[str] | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: OpenAIServiceTier | None = None  # Bedrock's service tier, by the core's mapping
    max_tool_calls: int | None = Field(default=None, ge=1)
    top_logprobs: int | None = Field(default=None, ge=0)
