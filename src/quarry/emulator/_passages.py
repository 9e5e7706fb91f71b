"""Answering from numbered passages, as a retrieval-augmented prompt gives them (`[1] (source)\\ntext`): the
emulator quotes the passage that shares most words with the question and cites it, like a model told to cite."""

from __future__ import annotations

import re

__all__ = ["answer_from_passages"]

_PASSAGE = re.compile(r"^\[(\d+)\][^\n]*\n(.*?)(?=\n\n\[\d+\]|\Z)", re.MULTILINE | re.DOTALL)
_WORD = re.compile(r"\w{3,}")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _words(text: str) -> set[str]:
    # Four-letter prefixes: a crude stemmer, so "fails" meets "failed" and "deploys" meets "deploy".
    return {word.lower()[:4] for word in _WORD.findall(text)}


def answer_from_passages(system: list[str], question: str) -> str | None:
    """The cited answer, or None when the system prompt holds no numbered passages."""
    passages = [(int(number), text.strip()) for number, text in _PASSAGE.findall("\n".join(system))]
    if not passages:
        return None
    wanted = _words(question)
    overlap, number, text = max(((len(wanted & _words(text)), number, text) for number, text in passages),
                                key=lambda item: (item[0], -item[1]))  # fmt: skip
    if not overlap:
        return "The passages I was given do not cover this question."
    sentences = [s for s in _SENTENCE.split(" ".join(text.split())) if s]
    best = max(sentences, key=lambda sentence: len(wanted & _words(sentence)))
    return f"According to the knowledge base, {best[:300]} [{number}]"
