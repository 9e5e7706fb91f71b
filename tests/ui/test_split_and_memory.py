"""Long-text splitting and chat-history compression, the two pure parts of the toolbox."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.ui._memory import plan_compression, request_messages, summary_request
from quarry.ui._split import estimate_tokens, split_text


def test_short_text_is_one_part() -> None:
    assert split_text("  One paragraph.  ", 100) == ["One paragraph."]


@pytest.mark.parametrize("limit", [20, 50, 200])
def test_parts_fit_and_keep_every_word_in_order(limit: int) -> None:
    text = "\n\n".join(
        f"Paragraph {p}. " + " ".join(f"Sentence {p}.{s} has words." for s in range(8)) for p in range(12)
    )
    parts = split_text(text, limit)
    assert len(parts) > 1
    assert all(estimate_tokens(part) <= limit for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_unbroken_text_and_cjk_are_cut() -> None:
    assert all(estimate_tokens(part) <= 10 for part in split_text("x" * 500, 10))
    chinese = "这是一个句子。" * 40
    parts = split_text(chinese, 30)
    assert len(parts) > 1
    assert "".join(parts) == chinese


def turns(count: int, words: int = 50) -> list[dict[str, Any]]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "word " * words} for i in range(count)
    ]


def test_no_compression_below_the_threshold() -> None:
    assert plan_compression(turns(4), 0, threshold=10_000, keep=2) is None


def test_compression_keeps_recent_turns_starting_with_a_user_turn() -> None:
    messages = turns(11)
    plan = plan_compression(messages, 0, threshold=200, keep=4)
    assert plan is not None
    assert plan.start == 0
    assert messages[plan.end]["role"] == "user"
    assert len(messages) - plan.end <= 4


def test_memory_replaces_the_summarised_turns() -> None:
    messages = turns(6)
    sent = request_messages("Be brief.", "They talked about turns 0 to 3.", messages, 4)
    assert sent[0]["role"] == "system"
    assert "Be brief." in sent[0]["content"]
    assert "They talked about turns 0 to 3." in sent[0]["content"]
    assert [m["content"] for m in sent[1:]] == [m["content"] for m in messages[4:]]


def test_summary_request_carries_old_memory_and_images_as_markers() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    request = summary_request("earlier notes", [{"role": "user", "content": [{"type": "text", "text": "see"}, image]}])
    assert len(request) == 1
    assert "earlier notes" in request[0]["content"]
    assert "user: see [image]" in request[0]["content"]
    assert "AAAA" not in request[0]["content"]
