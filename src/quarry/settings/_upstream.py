"""Settings of Bedrock and the calls made to it: the client, models and their defaults, retries and circuit
breaking, guardrails, and prices."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "BedrockSettings",
    "GuardrailSettings",
    "GuardrailsSettings",
    "ModelSettings",
    "ReasoningEffort",
    "ResilienceSettings",
    "SpendSettings",
]


class BedrockSettings(BaseModel):
    """How Quarry talks to Amazon Bedrock (`[bedrock]`, `QUARRY_BEDROCK__*`)."""

    connect_timeout_s: float = Field(default=10.0, gt=0, description="Opening a connection to Bedrock.")
    first_byte_timeout_s: float = Field(
        default=600.0, gt=0, description="Waiting for a response to start; non-streamed answers arrive whole."
    )
    idle_timeout_s: float = Field(default=120.0, gt=0, description="Longest silence between two stream events.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Tries for throttled and 5xx answers.")
    max_connections: int = Field(default=2000, ge=1, description="Pooled connections to Bedrock.")
    models_ttl_s: float = Field(default=600.0, ge=0, description="How long the model list is cached.")


ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh", "max"]


def _default_budgets() -> dict[ReasoningEffort, int]:
    # xhigh and max: more than high; a budget past a model's output limit is fitted under it (max: all it can).
    return {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 65536}


def _family_aliases() -> dict[str, str]:
    # The newest of each family on Bedrock in December 2026 (docs/bedrock-models-2026.md §1.1); Anthropic's names
    # resolve to the region's inference profile.
    return {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}


def _bedrock_betas() -> list[str]:
    # The `anthropic_beta` flags Bedrock documents for Claude; it refuses the request for any other.
    return [
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "dev-full-thinking-2025-05-14",
        "effort-2025-11-24",
        "fine-grained-tool-streaming-2025-05-14",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "token-efficient-tools-2025-02-19",
        "tool-examples-2025-10-29",
        "tool-search-tool-2025-10-19",
    ]


class ModelSettings(BaseModel):
    """Which models requests land on (`[models]`, `QUARRY_MODELS__*`)."""

    default: str = Field(
        default="anthropic.claude-sonnet-5-5",
        description="Model for `gpt-*` and other OpenAI names; upgraded to the region's inference profile.",
    )
    default_embedding: str = Field(
        default="amazon.titan-embed-text-v2:0", description="Model for `text-embedding-*` names."
    )
    aliases: dict[str, str] = Field(default_factory=dict, description="Extra model names → Bedrock ids.")
    family_aliases: dict[str, str] = Field(
        default_factory=_family_aliases,
        description="`opus`, `sonnet`, `haiku` → the newest model of each family (Anthropic names or Bedrock ids); "
        "`aliases` win over these.",
    )
    prompt_cache: list[Literal["system", "tools", "messages"]] = Field(
        default_factory=list, description="Where to add cache points on models that cache prompts."
    )
    reasoning_budgets: dict[ReasoningEffort, int] = Field(
        default_factory=_default_budgets,
        description="Thinking budget tokens for each `reasoning_effort` on models that think with a budget; levels "
        "left out keep their defaults.",
    )
    strict_parameters: bool = Field(
        default=False,
        description="Refuse (400) sampling parameters a model takes only at their defaults, instead of dropping them "
        "and naming them in `x-quarry-dropped-params`.",
    )
    anthropic_betas: list[str] = Field(
        default_factory=_bedrock_betas,
        description="`anthropic-beta` flags passed on to Bedrock for Claude; other flags are dropped.",
    )
    fallbacks: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Model name (as callers ask for it, or its Bedrock id) → the models tried in order when it "
        'throttles, fails, times out or refuses a prompt over its context window (`{"opus": ["sonnet", '
        '"haiku"]}`); see `[resilience]`.',
    )

    service_tiers: dict[str, Literal["priority", "default", "flex", "reserved"]] = Field(
        default_factory=dict,
        description="Model name or Bedrock id patterns (globs, first match wins) → the Bedrock service tier asked "
        'for when the caller asks none (OpenAI\'s or Anthropic\'s `"auto"`, or no tier): `{"*": "flex"}`.',
    )

    def service_tier_for(self, *names: str) -> str | None:
        """The operator's service tier for a model known by any of these names (None: Bedrock's default)."""
        for pattern, tier in self.service_tiers.items():
            if any(fnmatch.fnmatchcase(name, pattern) for name in names if name):
                return tier
        return None

    @field_validator("reasoning_budgets")
    @classmethod
    def _budgets_for_every_level(cls, budgets: dict[ReasoningEffort, int]) -> dict[ReasoningEffort, int]:
        return {**_default_budgets(), **budgets}

    def all_aliases(self) -> dict[str, str]:
        """Every extra model name: the family aliases, then the configured ones (an empty target drops a name)."""
        return {name: target for name, target in {**self.family_aliases, **self.aliases}.items() if target}


class GuardrailSettings(BaseModel):
    """One Amazon Bedrock guardrail, as Converse's `guardrailConfig` names it (GuardrailStreamConfiguration)."""

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(
        pattern=r"^([a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$",
        description="The guardrail's id or ARN.",
    )
    version: str = Field(default="DRAFT", pattern=r"^(DRAFT|[1-9][0-9]{0,7})$", description="DRAFT or a number.")
    trace: Literal["enabled", "disabled", "enabled_full"] = Field(
        default="disabled", description="Whether Bedrock's answers carry the guardrail's trace."
    )
    stream_processing_mode: Literal["sync", "async"] = Field(
        default="sync",
        description="Streams: judge each chunk before it is sent (sync), or send at once and judge alongside (async; "
        "no masking).",
    )


class GuardrailsSettings(BaseModel):
    """Bedrock guardrails applied to every call (`[guardrails]`, `QUARRY_GUARDRAILS__*`); a key's own guardrail
    (`quarry keys create --guardrail`) wins over these."""

    default: GuardrailSettings | None = Field(default=None, description="The guardrail of every model not in `models`.")
    models: dict[str, GuardrailSettings] = Field(
        default_factory=dict,
        description="Model name or Bedrock id patterns (globs, first match wins) → the guardrail for those models.",
    )

    def for_model(self, *names: str) -> GuardrailSettings | None:
        """The guardrail for a model known by any of these names (requested name, Bedrock id, base id)."""
        for pattern, guardrail in self.models.items():
            if any(fnmatch.fnmatchcase(name, pattern) for name in names if name):
                return guardrail
        return self.default


class SpendSettings(BaseModel):
    """What calls cost and how budgets behave (`[spend]`, `QUARRY_SPEND__*`)."""

    prices_file: Path | None = Field(
        default=None,
        description="A JSON file of prices (the shipped `prices.json`'s shape) merged over the shipped table, whole "
        "model entries replaced; nothing is fetched over the network.",
    )
    soft_threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a budget after which answers carry a warning header, a metric and a log line (a "
        "budget's own `soft` overrides it).",
    )


class ResilienceSettings(BaseModel):
    """Retries, failover and circuit breaking for Bedrock calls (`[resilience]`, `QUARRY_RESILIENCE__*`); the
    fallback chains themselves are `models.fallbacks`."""

    global_failover: bool = Field(
        default=False,
        description="A geographic inference profile (`us.`, `eu.`, `apac.`, …) that throttles or fails moves to the "
        "`global.` profile of the same model (which may serve the request from any commercial region).",
    )
    deadline_s: float = Field(
        default=600.0,
        gt=0,
        description="Time a call may spend on retries and fallbacks before its last error is answered; a client's "
        "own timeout (the SDKs' `x-stainless-timeout`) shortens it.",
    )
    backoff_base_s: float = Field(default=0.2, gt=0, description="First retry's backoff ceiling (full jitter).")
    backoff_cap_s: float = Field(default=5.0, gt=0, description="Largest backoff between two tries.")
    max_retry_after_s: float = Field(
        default=30.0,
        ge=0,
        description="Longest `Retry-After` an upstream answer is waited for; a longer one ends the retries at once "
        "(to the next fallback).",
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive failed calls (throttled, 5xx, timed out) to one model in one region that open its "
        "circuit: it is skipped, or refused with a 503, until the cool-down ends.",
    )
    breaker_cooldown_s: float = Field(
        default=30.0, gt=0, description="How long an open circuit stays open before one probe call may try it."
    )
