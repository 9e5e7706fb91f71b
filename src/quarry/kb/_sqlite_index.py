"""The in-memory search index of one SQLite knowledge base: what lets a search over 100,000 chunks take milliseconds.

- Vectors: every chunk's vector quantised to int8 (a scale per row; a quarter of float32's bytes) and scored with
  SimSIMD's int8 dot product on half the cores (up to four); the best four per result asked for are then scored
  exactly from the float32 blobs in the file. A float32 scan is bound by memory bandwidth (~17 ms for 100k chunks
  of 1024 dimensions here), and the file keeps the exact vectors, so memory holds only the int8 copy.
- Keywords: BM25 exactly as FTS5's bm25() computes it (k1 1.2, b 0.75, idf log((N - n + 0.5) / (n + 0.5)) floored at
  1e-6), over FTS5's own index: FTS5 tokenises the query (a temp FTS5 table with the chunks' tokenizer), fts5vocab
  gives each term's chunks and counts (cached until the next commit), FTS5's docsize table the chunk lengths. FTS5's
  `ORDER BY rank` calls bm25() for every matching chunk (~1.2 µs each: 30 ms when 25k chunks match); numpy adds a
  term's postings in microseconds.

The index follows the file: when `PRAGMA data_version` says anyone committed, the rows added since are loaded and
the deleted ones dropped (row numbers only grow). It runs on one connection's thread only.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import simsimd

from quarry.kb._models import ScoredChunk

__all__ = ["TOKENIZE", "SearchIndex"]

TOKENIZE = "porter unicode61 remove_diacritics 2"  # the chunks' FTS5 tokenizer, and the query's
_K1, _B = 1.2, 0.75  # FTS5's bm25() constants
_OVERSAMPLE = 4  # int8 candidates scored exactly, per result asked for
# half the cores (at most 4) for one int8 scan: on a busy machine a thread waiting for a core delays the whole scan
_THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))
_LOAD_BATCH = 4096  # rows read (and quantised) at a time when loading
_MAX_POSTINGS = 4_000_000  # postings cached between commits (12 bytes each)
_MAX_COUNTED = 100_000  # terms whose chunk counts are cached between commits
_GATHER_SHARE = 4  # a filter allowing under 1/4 of the rows: copy those rows and score them, else score all


@dataclass(frozen=True, slots=True)
class _Rows:
    """Every chunk as of one commit, in row order: row number, chunk id, document (as a code), int8 vector with its
    scale, and length in tokens (FTS5's count, for BM25)."""

    rows: npt.NDArray[np.int64]
    chunk_ids: npt.NDArray[np.object_]
    documents: npt.NDArray[np.int32]
    vectors: npt.NDArray[np.int8]
    scales: npt.NDArray[np.float32]
    lengths: npt.NDArray[np.float64]
    codes: dict[str, int] = field(default_factory=dict)  # document id -> code; grows, never shrinks

    def allowed(self, documents: Collection[str]) -> npt.NDArray[np.bool_]:
        return np.isin(self.documents, [self.codes[d] for d in documents if d in self.codes])

    def positions(self, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Where each of `rows` is held, and which of them are held at all (committed since, or deleted)."""
        at = np.minimum(np.searchsorted(self.rows, rows), max(len(self.rows) - 1, 0))
        return at, (self.rows[at] == rows) if len(self.rows) else np.zeros(len(rows), dtype=bool)


class SearchIndex:
    """Keyword and vector search over one knowledge base's file, on the thread of the connection passed in."""

    def __init__(self, dimensions: int) -> None:
        self._dimensions = dimensions
        self._rows: _Rows | None = None
        self._version = -1  # data_version when `_rows` was loaded
        self._prepared = False
        self._counts: dict[str, int] = {}  # term -> chunks holding it
        self._postings: OrderedDict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]] = OrderedDict()
        self._held = 0  # postings cached

    def keyword(
        self, db: sqlite3.Connection, words: list[str], limit: int, documents: Collection[str] | None
    ) -> list[ScoredChunk]:
        """The best `limit` chunks by BM25 for `words` (plain words, as search_terms() gives them)."""
        rows = self._current(db)
        total = len(rows.rows)
        if not total:
            return []
        terms = self._informative(db, self._tokens(db, words), total)
        scores = np.zeros(total)
        average = float(rows.lengths.mean()) or 1.0
        norms = _K1 * (1 - _B + _B * rows.lengths / average)
        for term in terms:
            at, tf = self._postings_of(db, term, rows)
            count = self._counts[term]
            idf = math.log((total - count + 0.5) / (count + 0.5))
            scores[at] += (idf if idf > 0 else 1e-6) * tf * (_K1 + 1) / (tf + norms[at])
        if documents is not None:
            scores[~rows.allowed(documents)] = 0
        matched = np.flatnonzero(scores)
        best = _best(scores[matched], limit)
        return [ScoredChunk(rows.chunk_ids[matched[i]], float(scores[matched[i]])) for i in best]

    def nearest(
        self, db: sqlite3.Connection, query: npt.NDArray[np.float32], limit: int, documents: Collection[str] | None
    ) -> list[ScoredChunk]:
        """The `limit` chunks whose vectors are nearest (cosine) `query`, a unit vector."""
        rows = self._current(db)
        if documents is None:
            at: npt.NDArray[np.intp] | None = None
            estimates = _estimates(rows.vectors, query) * rows.scales
        else:
            at = np.flatnonzero(rows.allowed(documents))
            if at.size * _GATHER_SHARE < len(rows.rows):
                estimates = _estimates(rows.vectors[at], query) * rows.scales[at]
            else:
                estimates = (_estimates(rows.vectors, query) * rows.scales)[at]
        picked = _best(estimates, limit * _OVERSAMPLE)
        candidates = picked if at is None else at[picked]
        exact = _vectors(db, rows.rows[candidates])
        numbers = rows.rows[candidates].tolist()
        held = [(c, exact[row]) for c, row in zip(candidates, numbers, strict=True) if row in exact]
        if not held:  # deleted since
            return []
        scores = np.stack([vector for _, vector in held]).astype(np.float64) @ query
        return [ScoredChunk(rows.chunk_ids[held[i][0]], float(scores[i])) for i in _best(scores, limit)]

    def _current(self, db: sqlite3.Connection) -> _Rows:
        """The rows as of the last commit by anyone; cached counts and postings are dropped when it changes."""
        version: int = db.execute("PRAGMA data_version").fetchone()[0]
        if self._rows is None or version != self._version:
            self._rows = _load(db, self._rows, self._dimensions)
            self._version = version
            self._counts.clear()
            self._postings.clear()
            self._held = 0
        return self._rows

    def _tokens(self, db: sqlite3.Connection, words: list[str]) -> list[str]:
        """`words` as FTS5 indexes them (stemmed, folded): through a temp FTS5 table with the same tokenizer."""
        if not self._prepared:
            for statement in (
                f"CREATE VIRTUAL TABLE temp.query USING fts5(text, tokenize='{TOKENIZE}')",
                "CREATE VIRTUAL TABLE temp.query_terms USING fts5vocab(temp, query, row)",
                "CREATE VIRTUAL TABLE temp.chunk_terms USING fts5vocab(main, chunks_fts, row)",
                "CREATE VIRTUAL TABLE temp.chunk_postings USING fts5vocab(main, chunks_fts, instance)",
            ):
                db.execute(statement)
            self._prepared = True
        db.execute("INSERT INTO temp.query (rowid, text) VALUES (1, ?)", (" ".join(words),))
        try:
            return [term for (term,) in db.execute("SELECT term FROM temp.query_terms")]
        finally:
            db.execute("DELETE FROM temp.query")

    def _informative(self, db: sqlite3.Connection, terms: list[str], total: int) -> list[str]:
        """`terms` less those in no chunk and those in half or more (all but the rarest when all are): bm25 gives
        those an idf of 1e-6, so they cannot reorder the chunks matching the other terms, yet they match nearly
        every chunk."""
        for term in terms:
            if term not in self._counts:
                if len(self._counts) >= _MAX_COUNTED:
                    self._counts.clear()
                row = db.execute("SELECT doc FROM temp.chunk_terms WHERE term = ?", (term,)).fetchone()
                self._counts[term] = row[0] if row else 0
        found = sorted((t for t in terms if self._counts[t]), key=self._counts.__getitem__)
        return [t for t in found if 2 * self._counts[t] < total] or found[:1]

    def _postings_of(
        self, db: sqlite3.Connection, term: str, rows: _Rows
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Where the chunks holding `term` are in `rows`, and how often each holds it."""
        cached = self._postings.get(term)
        if cached is not None:
            self._postings.move_to_end(term)
            return cached
        found = db.execute(
            "SELECT doc, count(*) FROM temp.chunk_postings WHERE term = ? GROUP BY doc", (term,)
        ).fetchall()
        pairs = np.array(found, dtype=np.int64).reshape(-1, 2)
        at, held = rows.positions(pairs[:, 0])
        postings = at[held], pairs[held, 1].astype(np.float64)
        self._postings[term] = postings
        self._held += len(postings[0])
        while self._held > _MAX_POSTINGS and len(self._postings) > 1:
            _, (dropped, _) = self._postings.popitem(last=False)
            self._held -= len(dropped)
        return postings


def _best(scores: npt.NDArray[np.float64], limit: int) -> npt.NDArray[np.intp]:
    """Indices of the `limit` highest scores, best first (ties in index order)."""
    count = min(limit, scores.size)
    if count <= 0:
        return np.arange(0)
    best = np.argpartition(-scores, count - 1)[:count] if count < scores.size else np.arange(scores.size)
    order = np.lexsort((best, -scores[best]))
    return best[order]


def _estimates(vectors: npt.NDArray[np.int8], query: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Dot products of the int8 rows with `query` (quantised alike), before each row's scale."""
    if not len(vectors):
        return np.zeros(0)
    codes, scale = _quantised(query.reshape(1, -1))
    dots = np.asarray(simsimd.cdist(codes, vectors, metric="dot", threads=_THREADS), dtype=np.float64)
    return dots.reshape(-1) * float(scale[0])


def _quantised(vectors: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Rows as int8 codes and the scale that maps each row's codes back (its largest magnitude is 127)."""
    peaks = np.abs(vectors).max(axis=1)
    scales = np.where(peaks > 0, peaks / 127, 1).astype(np.float32)
    return np.rint(vectors / scales[:, None]).astype(np.int8), scales


def _vectors(db: sqlite3.Connection, rows: npt.NDArray[np.int64]) -> dict[int, npt.NDArray[np.float32]]:
    """The exact (float32) vectors of `rows` still in the file."""
    found = db.execute(
        "SELECT row, vector FROM chunks WHERE row IN (SELECT value FROM json_each(?))", (json.dumps(rows.tolist()),)
    )
    return {row: np.frombuffer(blob, dtype="<f4").astype(np.float32) for row, blob in found}


def _length(size: bytes) -> int:
    """The first varint of an FTS5 docsize blob: the chunk's length in tokens."""
    value = 0
    for i, byte in enumerate(size[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value


def _load(db: sqlite3.Connection, old: _Rows | None, dimensions: int) -> _Rows:
    """`old` without the rows deleted since, plus the rows added since, all read from one snapshot."""
    db.execute("BEGIN")
    try:
        last = int(old.rows[-1]) if old is not None and len(old.rows) else 0
        kept: npt.NDArray[np.bool_] | None = None
        if old is not None:
            (count,) = db.execute("SELECT count(*) FROM chunks WHERE row <= ?", (last,)).fetchone()
            if count != len(old.rows):
                present = np.fromiter((r for (r,) in db.execute("SELECT row FROM chunks WHERE row <= ?", (last,))),
                                      np.int64)  # fmt: skip
                kept = np.isin(old.rows, present, assume_unique=True)
        codes = dict(old.codes) if old is not None else {}
        parts: list[_Rows] = [] if old is None else [_kept(old, kept)]
        added = db.execute(
            "SELECT c.row, c.id, c.document_id, c.vector, d.sz FROM chunks AS c"
            " JOIN chunks_fts_docsize AS d ON d.id = c.row WHERE c.row > ? ORDER BY c.row",
            (last,),
        )
        while batch := added.fetchmany(_LOAD_BATCH):
            vectors = np.frombuffer(b"".join(r[3] for r in batch), dtype="<f4").reshape(-1, dimensions)
            quantised, scales = _quantised(vectors.astype(np.float32))
            parts.append(_Rows(
                np.array([r[0] for r in batch], dtype=np.int64), np.array([r[1] for r in batch], dtype=object),
                np.array([codes.setdefault(r[2], len(codes)) for r in batch], dtype=np.int32), quantised, scales,
                np.array([_length(r[4]) for r in batch], dtype=np.float64),
            ))  # fmt: skip
    finally:
        db.execute("COMMIT")
    if len(parts) == 1:
        return replace(parts[0], codes=codes)
    if not parts:
        return _Rows(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0, np.int32),
                     np.zeros((0, dimensions), np.int8), np.zeros(0, np.float32), np.zeros(0), codes)  # fmt: skip
    return _Rows(
        np.concatenate([p.rows for p in parts]), np.concatenate([p.chunk_ids for p in parts]),
        np.concatenate([p.documents for p in parts]), np.concatenate([p.vectors for p in parts]),
        np.concatenate([p.scales for p in parts]), np.concatenate([p.lengths for p in parts]), codes,
    )  # fmt: skip


def _kept(old: _Rows, kept: npt.NDArray[np.bool_] | None) -> _Rows:
    if kept is None:
        return old
    return _Rows(old.rows[kept], old.chunk_ids[kept], old.documents[kept], old.vectors[kept], old.scales[kept],
                 old.lengths[kept], old.codes)  # fmt: skip
