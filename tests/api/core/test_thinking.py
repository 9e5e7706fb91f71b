"""The thinking rule: the mode from the model's facts, and what a request's thinking becomes on Converse."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import converse_thinking, level_for_budget, thinking_mode, thinking_on
from quarry.bedrock import ConverseRequest, ModelFacts
from tests.api.core.conftest import (
    GPT_OSS,
    HAIKU_3,
    HAIKU_55,
    LLAMA3,
    NOVA_2_LITE,
    OPUS_5,
    OPUS_46,
    OPUS_48,
    OPUS_55,
    SONNET_37,
    SONNET_45,
    SONNET_55,
    UNKNOWN,
    model,
)

BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 65536}
ADAPTIVE = ModelFacts(known=True, max_output_tokens=128000, features=frozenset({"thinking", "adaptiveThinking"}))


@pytest.mark.parametrize(
    ("model_id", "facts", "mode"),
    [
        (SONNET_37, None, "budget"),
        (HAIKU_3, None, "none"),
        (NOVA_2_LITE, None, "effort"),
        (GPT_OSS, None, "effort"),
        (LLAMA3, None, "none"),
        (UNKNOWN, None, "effort"),  # unknown models are trusted with every feature
        ("anthropic.claude-opus-9", ADAPTIVE, "adaptive"),
        (OPUS_46, None, "adaptive"),
        (OPUS_55, None, "adaptive"),
        (SONNET_45, None, "budget"),
    ],
)
def test_thinking_mode(model_id: str, facts: ModelFacts | None, mode: str) -> None:
    assert thinking_mode(model(model_id, facts)) == mode


@pytest.mark.parametrize(
    ("budget", "level"), [(0, "low"), (2048, "low"), (2049, "medium"), (8192, "medium"), (8193, "high")]
)
def test_level_for_budget(budget: int, level: str) -> None:
    assert level_for_budget(budget) == level


@pytest.mark.parametrize(
    ("thinking", "on"),
    [
        (None, False),
        ({}, False),
        ({"type": "disabled"}, False),
        ({"type": "enabled"}, True),
        ({"type": "adaptive"}, True),
    ],
)
def test_thinking_on(thinking: dict[str, Any] | None, on: bool) -> None:
    assert thinking_on(thinking) is on


def _request(**parts: Any) -> ConverseRequest:
    request: Any = {"messages": [{"role": "user", "content": [{"text": "q"}]}], **parts}
    return request  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("model_id", "level", "fields"),
    [
        (NOVA_2_LITE, "high", {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}}),
        (GPT_OSS, "minimal", {"reasoning_effort": "low"}),
        (GPT_OSS, "xhigh", {"reasoning_effort": "high"}),  # the highest they take
        (NOVA_2_LITE, "max", {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}}),
        (GPT_OSS, "none", {}),
        (LLAMA3, "high", {}),
    ],
)
def test_effort_models_take_a_level(model_id: str, level: str, fields: dict[str, Any]) -> None:
    request = _request()
    converse_thinking(model(model_id), request, level=level, budgets=BUDGETS)
    assert request["additionalModelRequestFields"] == fields


FORCED = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}], "toolChoice": {"any": {}}}
CALL = {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]}
ANSWER = {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "1"}]}}]}
SIGNED = {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "sig"}}}


@pytest.mark.parametrize(
    ("level", "parts", "thinking", "config"),
    [
        pytest.param(
            "high",
            {"inferenceConfig": {"maxTokens": 1000, "temperature": 0.2, "topP": 0.3}},
            {"type": "enabled", "budget_tokens": 24576},
            {"maxTokens": 25576},
            id="budget on top of a small max_tokens, sampling dropped",
        ),
        pytest.param(
            "low",
            {"inferenceConfig": {"maxTokens": 10000}},
            {"type": "enabled", "budget_tokens": 2048},
            {"maxTokens": 10000},
            id="max_tokens above the budget stays",
        ),
        pytest.param(
            "high",
            {"inferenceConfig": {"maxTokens": 60000}},
            {"type": "enabled", "budget_tokens": 24576},
            {"maxTokens": 60000},
            id="within the model's limit",
        ),
        pytest.param(
            None,
            {
                "inferenceConfig": {"maxTokens": 500},
                "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 64000}},
            },
            {"type": "enabled", "budget_tokens": 63999},
            {"maxTokens": 64000},
            id="a budget at the limit shrinks under it",
        ),
        pytest.param(
            None, {"additionalModelRequestFields": {"thinking": {"type": "disabled"}}}, None, {}, id="disabled"
        ),
        pytest.param("low", {"toolConfig": FORCED}, None, {}, id="a forced tool choice turns thinking off"),
        pytest.param(
            "low",
            {"messages": [{"role": "user", "content": [{"text": "q"}]}, CALL, ANSWER]},
            None,
            {},
            id="a tool turn without its signed thinking",
        ),
        pytest.param(
            "low",
            {
                "inferenceConfig": {"maxTokens": 4000},
                "messages": [
                    {"role": "user", "content": [{"text": "q"}]},
                    {**CALL, "content": [SIGNED, *CALL["content"]]},
                    ANSWER,
                ],
            },
            {"type": "enabled", "budget_tokens": 2048},
            {"maxTokens": 4000},
            id="a tool turn with its signed thinking",
        ),
        pytest.param(None, {"inferenceConfig": {"maxTokens": 100}}, None, {"maxTokens": 100}, id="nothing asked"),
    ],
)
def test_claude_budget(
    level: str | None, parts: dict[str, Any], thinking: dict[str, Any] | None, config: dict[str, Any]
) -> None:
    request = _request(**parts)
    converse_thinking(model(SONNET_37), request, level=level, budgets=BUDGETS)
    assert request.get("additionalModelRequestFields", {}).get("thinking") == thinking
    assert request.get("inferenceConfig", {}) == config


def test_a_budget_below_the_minimum_is_no_thinking() -> None:
    request = _request(inferenceConfig={"maxTokens": 500}, additionalModelRequestFields={"top_k": 5})
    converse_thinking(model(SONNET_37), request, level="minimal", budgets={"minimal": 600})
    assert "thinking" not in request["additionalModelRequestFields"]
    assert request["additionalModelRequestFields"]["top_k"] == 5  # sampling stays when Claude does not think


ADAPTIVE_ON = {"type": "adaptive"}
OFF = {"type": "disabled"}
LEVELS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]


def _adaptive_expected(model_id: str, level: str) -> tuple[dict[str, Any] | None, str | None]:
    """What each model gets for each level (the README's table)."""
    effort = {"minimal": "low"}.get(level, level)
    if model_id == OPUS_46 and level == "xhigh":
        effort = "high"
    if level != "none":
        return ADAPTIVE_ON, effort
    if model_id in (OPUS_55, SONNET_55):
        return ADAPTIVE_ON, "low"  # it cannot stop thinking: the least effort
    if model_id == HAIKU_55:
        return OFF, None  # it thinks by default: turned off
    return None, None  # it thinks only when asked


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("model_id", [OPUS_55, SONNET_55, HAIKU_55, OPUS_46])
def test_adaptive_thinking_for_every_level(model_id: str, level: str) -> None:
    request = _request(inferenceConfig={"maxTokens": 1000, "temperature": 0.5})
    converse_thinking(model(model_id), request, level=level, budgets=BUDGETS)
    thinking, effort = _adaptive_expected(model_id, level)
    assert request["additionalModelRequestFields"].get("thinking") == thinking
    assert request.get("outputConfig", {}).get("effort") == effort
    assert request["inferenceConfig"] == (
        {"maxTokens": 1000} if thinking == ADAPTIVE_ON else {"maxTokens": 1000, "temperature": 0.5}
    )


@pytest.mark.parametrize("level", LEVELS)
def test_budget_models_for_every_level(level: str) -> None:
    request = _request(inferenceConfig={"maxTokens": 64000})
    converse_thinking(model(SONNET_45), request, level=level, budgets=BUDGETS)
    thinking = request["additionalModelRequestFields"].get("thinking")
    assert thinking == (None if level == "none" else {"type": "enabled", "budget_tokens": min(BUDGETS[level], 63999)})
    assert "outputConfig" not in request


@pytest.mark.parametrize(
    ("model_id", "level", "thinking", "effort"),
    [
        pytest.param(HAIKU_55, "max", OFF, "high", id="thinking off under a forced tool: effort capped at high"),
        pytest.param(OPUS_48, "xhigh", None, "high", id="a model that thinks when asked is simply not asked"),
        pytest.param(OPUS_5, "low", OFF, "low", id="a model that thinks by default is told not to"),
        pytest.param(OPUS_55, "high", ADAPTIVE_ON, "high", id="a model that always thinks still thinks"),
    ],
)
def test_adaptive_thinking_under_a_forced_tool(
    model_id: str, level: str, thinking: dict[str, Any] | None, effort: str
) -> None:
    request = _request(toolConfig=FORCED)
    converse_thinking(model(model_id), request, level=level, budgets=BUDGETS)
    assert request["additionalModelRequestFields"].get("thinking") == thinking
    assert request["outputConfig"]["effort"] == effort


def test_a_forced_tool_without_a_level_turns_default_thinking_off() -> None:
    request = _request(toolConfig=FORCED)
    converse_thinking(model(HAIKU_55), request, level=None, budgets=BUDGETS)
    assert request["additionalModelRequestFields"]["thinking"] == OFF
    assert "outputConfig" not in request


def test_a_callers_budget_on_opus_46_is_kept() -> None:
    request = _request(
        inferenceConfig={"maxTokens": 8000},
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 4000}},
    )
    converse_thinking(model(OPUS_46), request, level=None, budgets=BUDGETS)
    assert request["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert "outputConfig" not in request


def test_a_callers_budget_on_an_adaptive_only_model_goes_to_bedrock_as_sent() -> None:
    # Bedrock's own 400 is the answer: Quarry does not guess another setting.
    own = {"type": "enabled", "budget_tokens": 4000}
    request = _request(additionalModelRequestFields={"thinking": dict(own)})
    converse_thinking(model(OPUS_55), request, level=None, budgets=BUDGETS)
    assert request["additionalModelRequestFields"]["thinking"] == own


def test_nothing_asked_leaves_the_model_to_its_default() -> None:
    request = _request(inferenceConfig={"maxTokens": 100})
    converse_thinking(model(OPUS_55), request, level=None, budgets=BUDGETS)
    assert request["additionalModelRequestFields"] == {}
    assert "outputConfig" not in request


def test_budget_for_a_level_the_settings_lack() -> None:
    request = _request(inferenceConfig={"maxTokens": 64000})
    converse_thinking(model(SONNET_45), request, level="max", budgets={"high": 20000})
    assert request["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 20000}
