"""Usage (from Converse and Messages) and stop reasons from Converse, and reasoning blocks both ways."""

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


@pytest.mark.parametrize(
    ("messages", "known", "usage"),
    [
        (None, Usage(3, 4, 10, 5), Usage(3, 4, 10, 5)),
        ({"input_tokens": 3, "output_tokens": 1}, Usage(), Usage(3, 1)),
        (
            {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 5},
            Usage(),
            Usage(3, 1, 10, 5),
        ),
        # A stream's message_delta: only the output so far, or nulls; message_start's counts stand.
        ({"output_tokens": 42}, Usage(3, 1, 10, 5), Usage(3, 42, 10, 5)),
        ({"input_tokens": None, "output_tokens": 42, "cache_read_input_tokens": None}, Usage(3, 1, 9), Usage(3, 42, 9)),
        ({"input_tokens": 0, "output_tokens": 42}, Usage(3, 1), Usage(0, 42)),  # a zero is a count, not absence
    ],
)
def test_usage_from_messages(messages: Any, known: Usage, usage: Usage) -> None:
    assert Usage.from_messages(messages, known) == usage


def test_usage_as_the_record_takes_it() -> None:
    assert Usage(3, 4, 10, 5).counts() == {
        "input_tokens": 3,
        "output_tokens": 4,
        "cache_read_tokens": 10,
        "cache_write_tokens": 5,
    }


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
