"""What Quarry knows about a model that Bedrock's control plane does not say (`models.json`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["ModelFacts", "base_model_id", "facts_for", "known_model_ids"]

_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|au|jp|ca|us-gov|global)\.")


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """Output limit and Converse features; a model missing from the table is `known=False` and gets no limits."""

    known: bool
    max_output_tokens: int | None = None
    features: frozenset[str] = frozenset()

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


def base_model_id(model_id: str) -> str:
    """The foundation model behind a profile id or ARN: `us.anthropic.x`, `arn:…/us.anthropic.x` → `anthropic.x`."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    return _PROFILE_PREFIX.sub("", model_id, count=1)


@cache
def _table() -> dict[str, ModelFacts]:
    raw = json.loads(resources.files("quarry.bedrock").joinpath("models.json").read_text())
    return {
        model_id: ModelFacts(True, entry.get("maxOutputTokens"), frozenset(entry["features"]))
        for model_id, entry in raw["models"].items()
    }


def facts_for(model_id: str) -> ModelFacts:
    return _table().get(base_model_id(model_id), ModelFacts(known=False))


def known_model_ids() -> list[str]:
    """The foundation models Quarry has facts for (used to read model names when Bedrock's list is unavailable)."""
    return list(_table())
