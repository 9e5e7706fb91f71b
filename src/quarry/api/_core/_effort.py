"""Effort: a requested reasoning level as one of the levels a Claude model takes in `output_config.effort`
(Converse: `outputConfig.effort`).

Callers ask in OpenAI's words (`reasoning_effort`: none, minimal, low, medium, high, xhigh, max — openai-python's
ReasoningEffort, docs/bedrock-models-2026.md §6); the models list their own levels (models.json, from AWS's model
cards: Opus 4.6 and Sonnet 4.6 have no `xhigh`, §1.3). A level a model lacks becomes the highest level it has that
is not above the one asked, so a request never costs more than asked; `minimal` is the lowest level, `low`.
"""

from __future__ import annotations

from typing import Literal

from quarry.bedrock import ModelFacts

__all__ = ["EFFORT_ORDER", "ReasoningLevel", "capped_effort", "effort_level", "lowest_effort"]

ReasoningLevel = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
# Anthropic's levels, lowest first (botocore's OutputConfig.effort: "low, medium, high, xhigh, and max").
EFFORT_ORDER = ("low", "medium", "high", "xhigh", "max")
# botocore's OutputConfig.effort: "When extended thinking is disabled, the effort level is capped at high."
_CAP_WITHOUT_THINKING = "high"


def _rank(level: str) -> int:
    return EFFORT_ORDER.index(level) if level in EFFORT_ORDER else -1


def effort_level(facts: ModelFacts, asked: str) -> str | None:
    """The model's effort level for a requested reasoning level; None for `none` or a model without levels."""
    if asked == "none" or not facts.effort_levels:
        return None
    wanted = _rank("low" if asked == "minimal" else asked)
    below = [level for level in facts.effort_levels if 0 <= _rank(level) <= wanted]
    if below:
        return max(below, key=_rank)
    return lowest_effort(facts)


def lowest_effort(facts: ModelFacts) -> str | None:
    """The least effort a model takes (what `none` means on a model that cannot stop thinking)."""
    return min(facts.effort_levels, key=_rank) if facts.effort_levels else None


def capped_effort(level: str | None) -> str | None:
    """An effort level allowed without thinking: at most `high`."""
    if level is None or _rank(level) <= _rank(_CAP_WITHOUT_THINKING):
        return level
    return _CAP_WITHOUT_THINKING
