"""Long inputs cut into parts that fit one call, at paragraph, then sentence, then word boundaries."""

from __future__ import annotations

import re

__all__ = ["estimate_tokens", "split_text"]

# Western sentence ends, and the ideographic full stop and full-width ! and ? of Chinese and Japanese text.
_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s+")


def estimate_tokens(text: str) -> int:
    """A cheap, deliberately generous token estimate: about four characters per token, CJK one per character."""
    wide = sum(1 for char in text if ord(char) >= 0x2E80)
    return (len(text) - wide) // 4 + wide + 1


def _pieces(text: str, max_tokens: int) -> list[str]:
    """Break `text` into units no larger than `max_tokens`: paragraphs, else sentences, else words."""
    if estimate_tokens(text) <= max_tokens:
        return [text]
    for splitter in (re.compile(r"\n\s*\n"), _SENTENCE_END, re.compile(r"\s+")):
        parts = [part for part in splitter.split(text) if part.strip()]
        if len(parts) > 1:
            return [piece for part in parts for piece in _pieces(part, max_tokens)]
    # One unbroken run of characters (no spaces at all): cut it by length.
    size = max(1, max_tokens * 2)
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_text(text: str, max_tokens: int) -> list[str]:
    """Consecutive parts of `text`, each within `max_tokens`, packed as full as the boundaries allow."""
    parts: list[str] = []
    current = ""
    for piece in _pieces(text.strip(), max_tokens):
        candidate = f"{current}\n\n{piece}" if current else piece
        if current and estimate_tokens(candidate) > max_tokens:
            parts.append(current)
            current = piece
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts
