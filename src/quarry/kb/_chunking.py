"""Cutting a loaded document into chunks of a few hundred tokens, at sentence boundaries, with overlap.

Like Bedrock Knowledge Bases' fixed-size chunking (300 tokens, 20% overlap by default), with two differences that
make better passages: chunks end at sentence ends (a sentence longer than a chunk is cut between words), and never
run across a section, so a chunk is under one heading and on one PDF page. Hierarchical chunking cuts parents of
`parent_tokens` first, then children of `chunk_tokens` inside each; children are searched, their parent is what a
model answers from.

Token counts are `quarry.kb._tokens`' estimate. A chunk holds at most `chunk_tokens` of them, save that a section's
last few sentences (under 15% of `chunk_tokens`) join the chunk before them rather than make a chunk of their own.
"""

from __future__ import annotations

import re

from quarry.errors import InvalidRequest
from quarry.kb._models import ChunkDraft, LoadedDocument
from quarry.kb._tokens import count_tokens, token_spans

__all__ = ["SMALL_TAIL", "check_chunking", "chunk_document"]

SMALL_TAIL = 0.15  # a section's trailing fragment under this share of the chunk size joins the chunk before it

# A sentence: from a non-space to its end mark (with closing quotes or brackets) where whitespace and then no
# lowercase letter follow (so "e.g. this" and "3.5" do not end one), to a CJK full stop, exclamation or question mark
# (with closing brackets), to a blank line (the end of a paragraph), or to the end of the text.
_SENTENCE = re.compile(
    r"""\S.*?(?:[.!?]+["'\u201d\u2019)\]]*(?=\s+[^\sa-z]|\s*\Z)|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019\uff09]*"""
    r"|(?=[^\S\n]*\n[^\S\n]*\n)|\s*\Z)",
    re.S,
)

# A unit is what chunks are made of: a sentence, or a piece of one too long for a chunk: (start, end, tokens).
_Unit = tuple[int, int, int]


def check_chunking(chunk_tokens: int, overlap: float, hierarchical: bool, parent_tokens: int) -> None:
    """InvalidRequest unless the chunking settings make sense."""
    if not 20 <= chunk_tokens <= 8192:
        raise InvalidRequest("chunk_tokens must be between 20 and 8192", param="chunk_tokens")
    if not 0 <= overlap <= 0.5:
        raise InvalidRequest("overlap must be between 0 and 0.5 (a share of chunk_tokens)", param="overlap")
    if hierarchical and parent_tokens <= chunk_tokens:
        raise InvalidRequest("parent_tokens must be more than chunk_tokens", param="parent_tokens")


def chunk_document(
    doc: LoadedDocument,
    *,
    chunk_tokens: int = 300,
    overlap: float = 0.2,
    hierarchical: bool = False,
    parent_tokens: int = 1500,
) -> list[ChunkDraft]:
    """The chunks of `doc`, in order; offsets are into `full_text(doc)`."""
    check_chunking(chunk_tokens, overlap, hierarchical, parent_tokens)
    overlap_tokens = int(overlap * chunk_tokens)
    # Pieces of overlong sentences are small enough to serve as overlap, and to fill chunks evenly.
    piece_tokens = max(overlap_tokens, chunk_tokens // 10)
    chunks: list[ChunkDraft] = []
    for section in doc.sections:
        text, base = section.text, section.start
        units = _units(text, chunk_tokens, piece_tokens)
        if not units:  # loaders leave out sections without text; a hand-made document may not
            continue
        parents = _pack(units, 0, len(units), parent_tokens, 0) if hierarchical else [(0, len(units))]
        for first, last in parents:
            parent = text[units[first][0] : units[last - 1][1]] if hierarchical else None
            for head, tail in _pack(units, first, last, chunk_tokens, overlap_tokens):
                start, end = units[head][0], units[tail - 1][1]
                chunks.append(
                    ChunkDraft(text[start:end], section.page, base + start, base + end, section.headings, parent)
                )
    return chunks


def _units(text: str, limit: int, piece_tokens: int) -> list[_Unit]:
    """`text`'s sentences, those of more than `limit` tokens cut into pieces of about `piece_tokens`."""
    units: list[_Unit] = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while text[end - 1].isspace():  # the match can take whitespace at the end of the text
            end -= 1
        tokens = count_tokens(text[start:end])
        if tokens <= limit:
            if tokens:
                units.append((start, end, tokens))
        else:
            units.extend(_pieces(text, start, end, piece_tokens))
    return units


def _pieces(text: str, start: int, end: int, size: int) -> list[_Unit]:
    """A long sentence cut at token boundaries into pieces of at most `size` tokens, between words where a word
    boundary lies in the second half of a piece."""
    spans = token_spans(text[start:end])
    pieces: list[_Unit] = []
    first, count = 0, len(spans)
    while first < count:
        last = min(first + size, count)
        if last < count:
            cut = last
            while cut > first + size // 2 and not text[start + spans[cut][0] - 1].isspace():
                cut -= 1
            if cut > first + size // 2:
                last = cut
        pieces.append((start + spans[first][0], start + spans[last - 1][1], last - first))
        first = last
    return pieces


def _pack(units: list[_Unit], first: int, stop: int, limit: int, overlap: int) -> list[tuple[int, int]]:
    """Units `first` to `stop` (exclusive) packed greedily into runs of at most `limit` tokens, as (first, stop)
    index pairs; each run after the first repeats the previous run's last units, up to `overlap` tokens of them."""
    runs: list[tuple[int, int]] = []
    head = first
    while head < stop:
        tail, total = head, 0
        while tail < stop and total + units[tail][2] <= limit:
            total += units[tail][2]
            tail += 1
        tail = max(tail, head + 1)  # a unit over the limit (a parent's pieces never are) goes alone
        runs.append((head, tail))
        if tail >= stop:
            break
        shared, following = 0, units[tail][2]
        head = tail
        while head - 1 > runs[-1][0] and shared + units[head - 1][2] <= min(overlap, limit - following):
            head -= 1
            shared += units[head][2]
    if len(runs) > 1:
        previous_head, previous_tail = runs[-2]
        fresh = sum(unit[2] for unit in units[previous_tail:stop])
        if fresh < SMALL_TAIL * limit:
            runs[-2:] = [(previous_head, stop)]
    return runs
