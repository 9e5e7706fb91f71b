"""A fast, offline approximation of how many tokens a BPE tokenizer (Titan's, Claude's) makes of a text.

The real tokenizers are not available offline (tiktoken downloads its tables), and chunk sizes only need to be
right to within a few tens of percent, so a token here is one of:

- a piece of up to four letters of a word ("extraction" -> "extr", "acti", "on"); most short words are one token;
- a group of up to three digits ("2024" -> "202", "4");
- one punctuation mark or symbol ("-", ".", "€");
- one CJK ideograph, kana or hangul syllable, as those tokenizers mostly give each its own token.

Whitespace belongs to no token. On English prose this gives about 1.5 tokens per word, somewhat more than Claude's
or cl100k's 1.3: the count errs on the large side, so chunks stay under an embedding model's limit.

Counts add up: cutting a text at a token boundary (or at whitespace) and counting the two parts gives the count of
the whole, which the chunker relies on.
"""

from __future__ import annotations

import re

__all__ = ["count_tokens", "token_spans"]

# Han (with extension A and compatibility ideographs), Hiragana, Katakana (and half-width), Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
# `[^\W\d_...]` is "a word character that is not a digit, `_` or CJK": a letter of any other script.
_TOKEN = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]{{1,4}}|\d{{1,3}}|[^\w\s]|_")


def count_tokens(text: str) -> int:
    """About how many tokens a BPE tokenizer makes of `text` (see the module's docstring)."""
    return len(_TOKEN.findall(text))


def token_spans(text: str) -> list[tuple[int, int]]:
    """The character spans (start, end) of `text`'s tokens, in order, as `count_tokens` counts them."""
    return [match.span() for match in _TOKEN.finditer(text)]
