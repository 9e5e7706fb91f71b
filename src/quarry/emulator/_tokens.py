"""The emulator's tokenizer: deterministic, cheap, and close enough to real ones (about 1.3 tokens a word).

CountTokens, `usage` and `maxTokens` truncation all use it, so they always agree with each other.
"""

from __future__ import annotations

import re

__all__ = ["count_tokens", "split_tokens"]

# CJK characters count one each; letter runs in pieces of up to 5; digits in threes; any other mark alone.
# Each piece keeps the white space that follows it, so joining the pieces gives back the text.
_TOKEN = re.compile(r"(?:[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\d_]{1,5}|\d{1,3}|[^\w\s]|_)\s*|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into tokens whose concatenation is the text."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))
