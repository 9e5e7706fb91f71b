"""Usage and stop reasons from Converse, and reasoning blocks both ways."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import Usage, redacted_reasoning, signed_reasoning, stop_reason, thinking_block


@pytest.mark.parametrize(
    ("converse", "messages"),
    [
        ("end_turn", "end_turn"),
        (None, "end_turn"),
        ("tool_use", "tool_use"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
        ("guardrail_intervened", "refusal"),
        ("content_filtered", "refusal"),
        ("model_context_window_exceeded", "model_context_window_exceeded"),
        ("malformed_tool_use", "end_turn"),
    ],
)
def test_stop_reason(converse: str | None, messages: str) -> None:
    assert stop_reason(converse) == messages


@pytest.mark.parametrize(
    ("converse", "usage", "prompt"),
    [
        (None, Usage(), 0),
        ({"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}, Usage(3, 4), 3),
        (
            {"inputTokens": 3, "outputTokens": 4, "cacheReadInputTokens": 10, "cacheWriteInputTokens": 5},
            Usage(3, 4, 10, 5),
            18,
        ),
    ],
)
def test_usage(converse: Any, usage: Usage, prompt: int) -> None:
    assert Usage.from_converse(converse) == usage
    assert usage.prompt == prompt


def test_usage_in_messages_terms() -> None:
    assert Usage(3, 4, 10, 5).messages() == {
        "input_tokens": 3,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 10,
        "output_tokens": 4,
    }


@pytest.mark.parametrize(
    ("reasoning", "block"),
    [
        ({"reasoningText": {"text": "hm", "signature": "s"}}, {"type": "thinking", "thinking": "hm", "signature": "s"}),
        ({"reasoningText": {"text": "hm"}}, {"type": "thinking", "thinking": "hm", "signature": ""}),
        ({"redactedContent": "b64"}, {"type": "redacted_thinking", "data": "b64"}),
        ({}, {"type": "thinking", "thinking": "", "signature": ""}),
    ],
)
def test_thinking_block(reasoning: Any, block: dict[str, str]) -> None:
    assert thinking_block(reasoning) == block


def test_reasoning_round_trip() -> None:
    signed, redacted = signed_reasoning("hm", "s"), redacted_reasoning("b64")
    assert thinking_block(signed["reasoningContent"]) == {"type": "thinking", "thinking": "hm", "signature": "s"}
    assert thinking_block(redacted["reasoningContent"]) == {"type": "redacted_thinking", "data": "b64"}
