"""Token usage and stop reasons from Converse and Messages, in the terms every dialect (and the per-request record)
takes them in: the one mapping of Bedrock's usage fields."""

from __future__ import annotations

from dataclasses import dataclass

from quarry.bedrock import MessagesStopReason, MessagesUsage, TokenUsage
from quarry.exchange import TokenCounts

__all__ = ["Usage", "stop_reason"]

# Converse's StopReason (botocore's bedrock-runtime service model) → Messages' stop_reason, the richer of the two
# vocabularies the dialects speak; reasons with no counterpart end the turn.
_STOP_REASONS: dict[str, MessagesStopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}


def stop_reason(reason: str | None) -> MessagesStopReason:
    return _STOP_REASONS.get(reason or "end_turn", "end_turn")


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one answer; `input` excludes the cached tokens, as both Converse and Messages count them."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @classmethod
    def from_converse(cls, usage: TokenUsage | None) -> Usage:
        usage = usage or {}
        return cls(
            input=usage.get("inputTokens", 0),
            output=usage.get("outputTokens", 0),
            cache_read=usage.get("cacheReadInputTokens", 0),
            cache_write=usage.get("cacheWriteInputTokens", 0),
        )

    @classmethod
    def from_messages(cls, usage: MessagesUsage | None, known: Usage | None = None) -> Usage:
        """Anthropic's usage over what is `known`: a stream's message_delta may omit (or null) the counts that
        message_start gave, which then stand."""
        known = known or cls()
        if usage is None:
            return known
        return cls(
            input=_given(usage.get("input_tokens"), known.input),
            output=_given(usage.get("output_tokens"), known.output),
            cache_read=_given(usage.get("cache_read_input_tokens"), known.cache_read),
            cache_write=_given(usage.get("cache_creation_input_tokens"), known.cache_write),
        )

    def __add__(self, other: Usage) -> Usage:
        """Two answers' tokens together (one request that made several calls, such as a list of prompts)."""
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
        )

    @property
    def prompt(self) -> int:
        """Every prompt token, cached or not."""
        return self.input + self.cache_read + self.cache_write

    def messages(self) -> MessagesUsage:
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        }

    def counts(self) -> TokenCounts:
        """The tokens as the per-request record (`quarry.exchange`) takes them."""
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_tokens": self.cache_read,
            "cache_write_tokens": self.cache_write,
        }


def _given(value: int | None, known: int) -> int:
    return known if value is None else value
