"""The shapes a conversation is stored and served in; pydantic validates what callers send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Conversation",
    "ConversationPatch",
    "ConversationSummary",
    "Message",
    "Owner",
    "Parameters",
    "UserSettings",
]


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose data it is: the API key's principal, and the toolbox user inside that principal's namespace."""

    principal: str
    user: str


class Parameters(BaseModel):
    """Per-conversation model parameters, sent with every chat request of that conversation."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=500)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    # Off or on (a thinking budget), or an effort level on models with adaptive thinking (GET /v1/models lists them).
    thinking: bool | Literal["low", "medium", "high", "xhigh", "max"] = False


class Message(BaseModel):
    """One chat turn in OpenAI's shape: `content` is text or a list of parts (text, image_url)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str | list[dict[str, Any]] = Field(max_length=100_000)
    reasoning: str | None = Field(default=None, description="The model's thinking, shown folded.")


class ConversationPatch(BaseModel):
    """What a create or an update may set; absent fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=300)
    style: str | None = Field(default=None, max_length=100)
    system: str | None = Field(default=None, max_length=20_000)
    parameters: Parameters | None = None
    memory: str | None = Field(default=None, max_length=100_000, description="Summary of the compressed turns.")
    memory_upto: int | None = Field(default=None, ge=0, description="Messages before this index are in `memory`.")
    messages: list[Message] | None = Field(default=None, max_length=10_000)


class ConversationSummary(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    title: str
    model: str
    created_at: int
    updated_at: int


class Conversation(ConversationSummary):
    style: str = "normal"
    system: str = ""
    parameters: Parameters = Field(default_factory=Parameters)
    memory: str = ""
    memory_upto: int = 0
    messages: list[Message] = Field(default_factory=list)

    def summary(self) -> ConversationSummary:
        return ConversationSummary.model_validate(self.model_dump(include=set(ConversationSummary.model_fields)))

    def patched(self, patch: ConversationPatch, *, now: int) -> Conversation:
        """A copy with the patch's set fields applied; `memory_upto` never points past the messages."""
        changes = patch.model_dump(exclude_unset=True, exclude_none=True)
        updated = self.model_validate(self.model_dump() | changes | {"updated_at": now})
        updated.memory_upto = min(updated.memory_upto, len(updated.messages))
        return updated


class UserSettings(BaseModel):
    """A toolbox user's own settings: which Quarry to call, with which key and model, and their style presets."""

    model_config = ConfigDict(extra="forbid")

    api_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s]+$")
    api_key: str | None = Field(default=None, max_length=1000)
    default_model: str | None = Field(default=None, max_length=300)
    presets: dict[str, str] = Field(default_factory=dict, max_length=100, description="Style name → system prompt.")
