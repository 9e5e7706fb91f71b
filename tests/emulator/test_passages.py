"""The emulator answers retrieval-augmented prompts by quoting and citing the passage closest to the question."""

from __future__ import annotations

from quarry.emulator._passages import answer_from_passages

SYSTEM = """You answer questions from the numbered passages below.

Passages:
[1] (leave.md, Holidays)
Staff get 25 days of paid leave a year. Unused days lapse in March.

[2] (deploy.md, page 3)
Deploys run every weekday at noon. A failed deploy rolls back on its own."""


def test_quotes_the_closest_sentence_and_cites_its_passage() -> None:
    answer = answer_from_passages([SYSTEM], "When do deploys run?")
    assert answer == "According to the knowledge base, Deploys run every weekday at noon. [2]"


def test_says_so_when_no_passage_shares_a_word() -> None:
    assert (
        answer_from_passages([SYSTEM], "Capital of France?") == "The passages I was given do not cover this question."
    )


def test_no_passages_no_rule() -> None:
    assert answer_from_passages(["You are a helpful assistant."], "When do deploys run?") is None
