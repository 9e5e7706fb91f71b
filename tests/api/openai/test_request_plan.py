"""How a chat request becomes a Converse request where the emulator cannot see the difference: cache points
by configuration, thinking budgets and the parameters they displace."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api.openai._messages import ConverseHistory, to_converse
from quarry.api.openai._request import plan_chat
from quarry.api.openai._schemas import ChatCompletionRequest, ChatMessage
from quarry.bedrock import ResolvedModel, facts_for
from quarry.settings import ModelSettings

SONNET_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
CACHE = {"cachePoint": {"type": "default"}}


def _plan(model_id: str, settings: ModelSettings, **request: Any) -> dict[str, Any]:
    chat = ChatCompletionRequest.model_validate(
        {"model": model_id, "messages": [{"role": "user", "content": "x"}], **request}
    )
    history = ConverseHistory(
        system=[{"text": "rules"}], messages=[{"role": "user", "content": [{"text": "question"}]}]
    )
    model = ResolvedModel(requested=model_id, id=model_id, facts=facts_for(model_id))
    return plan_chat(chat, model, history, settings).body


def test_configured_cache_points_on_a_caching_model() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = _plan(SONNET_37, ModelSettings(prompt_cache=["system", "tools", "messages"]), tools=tools)
    assert body["system"][-1] == CACHE
    assert body["toolConfig"]["tools"][-1] == CACHE
    assert body["messages"][-1]["content"][-1] == CACHE


def test_no_cache_points_on_a_model_that_cannot_cache() -> None:
    body = _plan("anthropic.claude-3-haiku-20240307-v1:0", ModelSettings(prompt_cache=["system", "messages"]))
    assert CACHE not in body["system"]
    assert CACHE not in body["messages"][-1]["content"]


def test_reasoning_effort_sets_a_budget_and_drops_sampling() -> None:
    body = _plan(SONNET_37, ModelSettings(), reasoning_effort="high", temperature=0.3, top_p=0.5, max_tokens=1000)
    thinking = body["additionalModelRequestFields"]["thinking"]
    assert thinking == {"type": "enabled", "budget_tokens": 24576}
    # max_tokens below the budget counts the answer alone: thinking comes on top.
    assert body["inferenceConfig"] == {"maxTokens": 25576}


def test_forced_tool_choice_turns_thinking_off() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = _plan(SONNET_37, ModelSettings(), reasoning_effort="low", tools=tools, tool_choice="required")
    assert "thinking" not in body.get("additionalModelRequestFields", {})
    assert body["toolConfig"]["toolChoice"] == {"any": {}}


def test_passthrough_fields() -> None:
    body = _plan(
        SONNET_37,
        ModelSettings(),
        additional_model_request_fields={"anthropic_beta": ["x"]},
        extra_body={"top_k": 9},
    )
    assert body["additionalModelRequestFields"] == {"top_k": 9, "anthropic_beta": ["x"]}


OPUS_55 = "us.anthropic.claude-opus-5-5"
SONNET_55 = "us.anthropic.claude-sonnet-5-5"
HAIKU_55 = "us.anthropic.claude-haiku-5-5"
OPUS_46 = "us.anthropic.claude-opus-4-6-v1"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize(
    ("model_id", "level", "thinking", "effort"),
    [
        (OPUS_55, "none", {"type": "adaptive"}, "low"),  # it cannot stop thinking: the least of it
        (OPUS_55, "minimal", {"type": "adaptive"}, "low"),
        (OPUS_55, "medium", {"type": "adaptive"}, "medium"),
        (OPUS_55, "xhigh", {"type": "adaptive"}, "xhigh"),
        (OPUS_55, "max", {"type": "adaptive"}, "max"),
        (SONNET_55, "none", {"type": "adaptive"}, "low"),
        (SONNET_55, "high", {"type": "adaptive"}, "high"),
        (HAIKU_55, "none", {"type": "disabled"}, None),  # it thinks by default: told not to
        (HAIKU_55, "low", {"type": "adaptive"}, "low"),
        (OPUS_46, "none", None, None),
        (OPUS_46, "xhigh", {"type": "adaptive"}, "high"),  # no xhigh on 4.6: never more than asked
        (OPUS_46, "max", {"type": "adaptive"}, "max"),
        (SONNET_45, "max", {"type": "enabled", "budget_tokens": 63999}, None),  # the budget, under the model's limit
        (SONNET_45, "xhigh", {"type": "enabled", "budget_tokens": 32768}, None),
    ],
)
def test_reasoning_effort_on_the_claude_models_of_2026(
    model_id: str, level: str, thinking: dict[str, Any] | None, effort: str | None
) -> None:
    body = _plan(model_id, ModelSettings(), reasoning_effort=level)
    assert body.get("additionalModelRequestFields", {}).get("thinking") == thinking
    assert body.get("outputConfig", {}).get("effort") == effort


def test_refused_sampling_is_dropped_and_named() -> None:
    chat = ChatCompletionRequest.model_validate(
        {"model": OPUS_55, "messages": [{"role": "user", "content": "x"}], "temperature": 0.2, "top_k": 4}
    )
    history = ConverseHistory(messages=[{"role": "user", "content": [{"text": "q"}]}])
    plan = plan_chat(chat, ResolvedModel(OPUS_55, OPUS_55, facts_for(OPUS_55)), history, ModelSettings())
    assert plan.dropped == ("temperature", "top_k")
    assert "temperature" not in plan.body.get("inferenceConfig", {})
    assert "top_k" not in plan.body.get("additionalModelRequestFields", {})


async def _no_images(url: str) -> Any:
    raise AssertionError(url)


async def test_signed_thinking_without_text_goes_back() -> None:
    # Opus 4.7 and later omit the thinking text by default; the signed block must still come back to the model.
    messages = [
        ChatMessage(role="user", content="q"),
        ChatMessage(
            role="assistant",
            content="a",
            thinking_blocks=[
                {"type": "thinking", "thinking": "", "signature": "sig"},
                {"type": "thinking", "thinking": "x"},
            ],
        ),
        ChatMessage(role="user", content="more"),
    ]
    history = await to_converse(messages, _no_images)
    assert history.messages[1]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": "", "signature": "sig"}}
    }
    assert len(history.messages[1]["content"]) == 2  # the unsigned block is left out
