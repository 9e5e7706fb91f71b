"""Thinking: which mode a model thinks in (from its facts), and the one place a request's thinking is decided.

Modes: `budget` (Claude's `thinking: {type: enabled, budget_tokens}`), `effort` (other models' reasoning level in
their own request fields), `adaptive` (Claude 4.6 and later: `thinking: {type: adaptive}` with an effort level,
`adaptiveThinking` in models.json), `none`. A new mode is a fact in models.json plus a branch in `thinking_mode` and
`converse_thinking`.

Adaptive thinking on Converse (docs/bedrock-models-2026.md §1.3, §4): the thinking type has no Converse field and
goes in `additionalModelRequestFields.thinking`; the level goes in Converse's own `outputConfig.effort` (botocore's
bedrock-runtime service model, 2026-07-31; the locked botocore 1.43.117 has it, though BedrockRuntime sends the JSON
body as built and uses botocore only to sign it). Where a model thinks by default, "no thinking" must be said
(`{type: disabled}`); where it always thinks (Opus 5.5, Sonnet 5.5, Fable 5.1), it cannot be said, and `none` asks
for the least effort instead. Without thinking the effort is capped at `high`, as Bedrock requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from quarry.api._core._effort import capped_effort, effort_level, lowest_effort
from quarry.api._core._output import DEFAULT_OUTPUT
from quarry.bedrock import ConverseRequest, Document, ResolvedModel

__all__ = [
    "MIN_BUDGET",
    "Level",
    "ThinkingMode",
    "converse_thinking",
    "effort_fields",
    "level_for_budget",
    "thinking_mode",
    "thinking_on",
]

ThinkingMode = Literal["none", "budget", "effort", "adaptive"]
Level = Literal["low", "medium", "high"]
# Anthropic's smallest budget_tokens: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
MIN_BUDGET = 1024
# The levels callers ask for (OpenAI's reasoning_effort) as those the models take; `none` is no thinking.
_LEVELS: dict[str, Level] = {
    "minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high",
}  # fmt: skip
# Claude's sampling parameters, none of which it takes while it thinks.
_SAMPLING_CONFIG = ("temperature", "topP")


def thinking_mode(model: ResolvedModel) -> ThinkingMode:
    facts = model.facts
    if "adaptiveThinking" in facts.features:  # listed, never assumed: unknown models keep the budget mode
        return "adaptive"
    if not facts.has("thinking"):
        return "none"
    return "budget" if model.base_id.startswith("anthropic.") else "effort"


def thinking_on(thinking: Mapping[str, object] | None) -> bool:
    """Whether an Anthropic-style `thinking` setting turns thinking on."""
    return thinking is not None and thinking.get("type") in ("enabled", "adaptive")


def level_for_budget(budget: int) -> Level:
    """A Claude thinking budget as the nearest reasoning level of the models that take levels."""
    return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


def effort_fields(model: ResolvedModel, level: Level, fields: Document) -> None:
    """A reasoning level in the request fields of the non-Claude models that reason."""
    if model.base_id.startswith("openai."):
        fields["reasoning_effort"] = level
    elif model.base_id.startswith("amazon.nova"):
        fields["reasoningConfig"] = {"type": "enabled", "maxReasoningEffort": level}


def converse_thinking(
    model: ResolvedModel, request: ConverseRequest, *, level: str | None, budgets: Mapping[str, int]
) -> None:
    """Thinking on a Converse request: a level (`none`, `minimal`…`max`) and/or Claude's own `thinking` setting
    already in `additionalModelRequestFields`; a budget (from `budgets` by level) fitted into maxTokens, or adaptive
    thinking at the model's nearest effort level; sampling parameters dropped while Claude thinks."""
    fields = request.setdefault("additionalModelRequestFields", {})
    asked = level not in (None, "none")
    match thinking_mode(model):
        case "effort":
            effort = _LEVELS.get(level or "none")
            if effort is not None:
                effort_fields(model, effort, fields)
        case "budget":
            if asked or "thinking" in fields:
                _claude_budget(model, request, fields, _budget(budgets, level if asked and level else "medium"))
        case "adaptive":
            own = fields.get("thinking")
            if own is not None and own.get("type") == "enabled" and model.facts.budget_thinking:
                # A caller's own budget where the model still takes budgets (Opus and Sonnet 4.6): as before.
                _claude_budget(model, request, fields, budgets.get("medium", MIN_BUDGET))
            else:
                _adaptive(model, request, fields, level)
        case "none":
            return


def _adaptive(model: ResolvedModel, request: ConverseRequest, fields: Document, level: str | None) -> None:
    facts = model.facts
    own = fields.get("thinking")
    if level is None:
        # No level asked: the caller's own `thinking` setting, else the model's default, go as they are; but a model
        # that thinks by default is told not to where thinking is not allowed (a forced tool), if it can be told.
        if own is None and facts.thinks_by_default and not facts.thinking_always_on and not _thinking_allowed(request):
            fields["thinking"] = {"type": "disabled"}
        elif thinking_on(own) or (own is None and facts.thinks_by_default):
            _drop_sampling(request, fields)
        return
    effort = effort_level(facts, level)
    if facts.thinking_always_on or (level != "none" and _thinking_allowed(request)):
        fields["thinking"] = {"type": "adaptive"}
        _drop_sampling(request, fields)
        if level == "none":
            effort = lowest_effort(facts)  # the model cannot stop thinking: the least of it
    else:
        if facts.thinks_by_default:
            fields["thinking"] = {"type": "disabled"}
        else:
            fields.pop("thinking", None)  # thinks only when asked
        effort = capped_effort(effort)
    if effort is not None:
        request.setdefault("outputConfig", {})["effort"] = effort


def _drop_sampling(request: ConverseRequest, fields: Document) -> None:
    config = request.get("inferenceConfig", {})
    for key in _SAMPLING_CONFIG:
        config.pop(key, None)  # type: ignore[misc]  # optional keys of a total=False shape
    fields.pop("top_k", None)


def _budget(budgets: Mapping[str, int], level: str) -> int:
    """The budget for a level; a level the settings lack takes the largest budget configured below it."""
    if level in budgets:
        return budgets[level]
    order = ("minimal", "low", "medium", "high", "xhigh", "max")
    below = [budgets[name] for name in order[: order.index(level)] if name in budgets] if level in order else []
    return below[-1] if below else MIN_BUDGET


def _claude_budget(model: ResolvedModel, request: ConverseRequest, fields: Document, budget_for_level: int) -> None:
    thinking = fields.get("thinking") or {"type": "enabled", "budget_tokens": budget_for_level}
    fields["thinking"] = thinking
    if thinking.get("type") == "disabled" or not _thinking_allowed(request):
        fields.pop("thinking")
        return
    config = request.setdefault("inferenceConfig", {})
    budget = int(thinking.get("budget_tokens") or MIN_BUDGET)
    asked_max = config.get("maxTokens", DEFAULT_OUTPUT)
    ceiling = model.facts.max_output_tokens or budget + asked_max
    if config.get("maxTokens", 0) <= budget:
        # max_tokens below the budget counts the answer alone: thinking comes on top, within the model's limit.
        config["maxTokens"] = min(budget + asked_max, ceiling)
    if config["maxTokens"] <= budget:
        thinking["budget_tokens"] = budget = config["maxTokens"] - 1
    if budget < MIN_BUDGET:
        fields.pop("thinking")
        return
    # Claude thinks only at its own temperature and sampling.
    _drop_sampling(request, fields)


def _thinking_allowed(request: ConverseRequest) -> bool:
    """Thinking needs free tool choice, and signed thinking kept on the assistant turn that called the tools."""
    if "toolChoice" in request.get("toolConfig", {}):
        return False
    messages = [m for m in request.get("messages", []) if m["role"] != "system"]
    if len(messages) < 2 or not any("toolResult" in block for block in messages[-1]["content"]):
        return True
    return "reasoningContent" in messages[-2]["content"][0]
