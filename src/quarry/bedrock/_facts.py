"""What Quarry knows about a model that Bedrock's control plane does not say (`models.json`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["ModelFacts", "base_model_id", "facts_for", "known_model_ids"]

_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|au|jp|ca|us-gov|global)\.")


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """Limits, features and request rules; a model missing from the table is `known=False` and gets no limits.

    The rules of the Claude models of 2026 come from AWS's model cards and Anthropic's model pages, gathered with
    their sources in docs/bedrock-models-2026.md: effort levels and their default (`output_config.effort`),
    adaptive thinking, sampling parameters refused at non-default values (Claude 4.7 and later), assistant prefill
    refused (Claude 4.6 and later), forced tool choice refused (the 5.5 models, Fable 5.1), mid-conversation system
    messages (Opus 4.8 and later), and service on Bedrock's own Messages endpoint.
    """

    known: bool
    max_output_tokens: int | None = None
    features: frozenset[str] = frozenset()
    context_window: int | None = None
    effort_levels: tuple[str, ...] = ()
    default_effort: str | None = None

    def has(self, feature: str) -> bool:
        """Whether the model is known to support a feature; unknown models are trusted with everything."""
        return not self.known or feature in self.features

    @property
    def temperature_excludes_top_p(self) -> bool:
        return "temperatureXorTopP" in self.features

    @property
    def structured_output(self) -> bool:
        return "structuredOutput" in self.features

    @property
    def caches_prompts(self) -> bool:
        return "cachePoints" in self.features

    @property
    def adaptive_thinking(self) -> bool:
        """Takes `thinking: {type: adaptive}` with `output_config.effort`."""
        return "adaptiveThinking" in self.features

    @property
    def budget_thinking(self) -> bool:
        """Takes `thinking: {type: enabled, budget_tokens}` (deprecated where adaptive thinking exists)."""
        return "thinking" in self.features

    @property
    def thinking_always_on(self) -> bool:
        """Thinks on every request: `thinking: {type: disabled}` is refused."""
        return "thinkingAlwaysOn" in self.features

    @property
    def thinks_by_default(self) -> bool:
        """Thinks adaptively when the request says nothing about thinking."""
        return "thinksByDefault" in self.features

    @property
    def sampling_default_only(self) -> bool:
        """Refuses `temperature`, `top_p` and `top_k` at anything but their defaults."""
        return "samplingDefaultOnly" in self.features

    @property
    def refuses_prefill(self) -> bool:
        """Refuses a conversation that ends with an assistant message."""
        return "noPrefill" in self.features

    @property
    def refuses_forced_tool_choice(self) -> bool:
        """Refuses `tool_choice` `any` or a named tool."""
        return "noForcedToolChoice" in self.features

    @property
    def system_messages(self) -> bool:
        """Takes `system` messages in the middle of the conversation."""
        return "systemMessages" in self.features

    @property
    def messages_api(self) -> bool:
        """Served on Bedrock's Messages endpoint (`/anthropic/v1/messages`)."""
        return "messagesApi" in self.features


def base_model_id(model_id: str) -> str:
    """The foundation model behind a profile id or ARN: `us.anthropic.x`, `arn:…/us.anthropic.x` → `anthropic.x`."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    return _PROFILE_PREFIX.sub("", model_id, count=1)


@cache
def _table() -> dict[str, ModelFacts]:
    raw = json.loads(resources.files("quarry.bedrock").joinpath("models.json").read_text())
    return {model_id: _facts(entry) for model_id, entry in raw["models"].items()}


def _facts(entry: dict[str, Any]) -> ModelFacts:
    effort = entry.get("effort", {})
    return ModelFacts(
        True,
        entry.get("maxOutputTokens"),
        frozenset(entry["features"]),
        context_window=entry.get("contextWindow"),
        effort_levels=tuple(effort.get("levels", ())),
        default_effort=effort.get("default"),
    )


def facts_for(model_id: str) -> ModelFacts:
    return _table().get(base_model_id(model_id), ModelFacts(known=False))


def known_model_ids() -> list[str]:
    """The foundation models Quarry has facts for (used to read model names when Bedrock's list is unavailable)."""
    return list(_table())
