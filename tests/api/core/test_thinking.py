"""The thinking rule: the mode from the model's facts, and what a request's thinking becomes on Converse."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import converse_thinking, level_for_budget, thinking_mode, thinking_on
from quarry.bedrock import ConverseRequest, ModelFacts
from tests.api.core.conftest import GPT_OSS, HAIKU_3, LLAMA3, NOVA_2_LITE, SONNET_37, UNKNOWN, model

BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
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
