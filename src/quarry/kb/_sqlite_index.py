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
the deleted ones dropped (row numbers only grow). Cached postings are carried over (the new rows tokenised by a temp
FTS5 table), and the int8 vectors are kept in segments, merged now and then, so a search right after a commit (the
CLI ingesting beside the server) does not read the whole index again. It runs on one connection's thread only.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import simsimd

from quarry.kb._models import ScoredChunk
from quarry.kb._store import BM25_B, BM25_K1, bm25_idf, informative

__all__ = ["TOKENIZE", "SearchIndex"]

TOKENIZE = "porter unicode61 remove_diacritics 2"  # the chunks' FTS5 tokenizer, and the query's
_OVERSAMPLE = 4  # int8 candidates scored exactly, per result asked for
# half the cores (at most 4) for one int8 scan: on a busy machine a thread waiting for a core delays the whole scan
_THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))
_LOAD_BATCH = 4096  # rows read (and quantised) at a time when loading
_MAX_POSTINGS = 4_000_000  # postings cached between commits (12 bytes each)
_MAX_COUNTED = 100_000  # terms whose chunk counts are cached between commits
_GATHER_SHARE = 4  # a filter allowing under 1/4 of the rows: copy those rows and score them, else score all
_MAX_SEGMENTS = 8  # int8 vector segments (one per load) before they are merged into one
_CARRY_SHARE = 10  # more rows added than 1/10 of those held: drop cached postings rather than carry them over

Postings = tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]  # positions in `_Rows`, and the term's count in each
_MAX_PARTS = 8  # a term's postings arrive in parts (one per commit carried over) and are merged past this many


def _size(parts: list[Postings]) -> int:
    return sum(len(at) for at, _ in parts)


@dataclass(frozen=True, slots=True)
class _Rows:
    """Every chunk as of one commit, in row order: row number, chunk id, document (as a code), int8 vector (in
    segments) with its scale, and length in tokens (FTS5's count, for BM25)."""

    rows: npt.NDArray[np.int64]
    chunk_ids: npt.NDArray[np.object_]
    documents: npt.NDArray[np.int32]
    segments: tuple[npt.NDArray[np.int8], ...]
    scales: npt.NDArray[np.float32]
    lengths: npt.NDArray[np.float64]
    codes: dict[str, int] = field(default_factory=dict)  # document id -> code; grows, never shrinks

    def allowed(self, documents: Collection[str]) -> npt.NDArray[np.bool_]:
        return np.isin(self.documents, [self.codes[d] for d in documents if d in self.codes])

    def positions(self, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Where each of `rows` is held, and which of them are held at all (committed since, or deleted)."""
        at = np.minimum(np.searchsorted(self.rows, rows), max(len(self.rows) - 1, 0))
        return at, (self.rows[at] == rows) if len(self.rows) else np.zeros(len(rows), dtype=bool)

    def estimates(self, query: npt.NDArray[np.float32], at: npt.NDArray[np.intp] | None) -> npt.NDArray[np.float64]:
        """Estimated cosines with `query` of every row, or of the rows at `at` (ascending)."""
        codes, scale = _quantised(query.reshape(1, -1))
        if at is not None and at.size * _GATHER_SHARE >= len(self.rows):
            return self.estimates(query, None)[at]
        parts, start = [], 0
        for segment in self.segments:
            part = segment
            if at is not None:
                part = segment[at[(at >= start) & (at < start + len(segment))] - start]
            if len(part):
                dots = simsimd.cdist(codes, part, metric="dot", threads=_THREADS)
                parts.append(np.asarray(dots, dtype=np.float64).reshape(-1))
            start += len(segment)
        found = np.concatenate(parts) if parts else np.zeros(0)
        return found * float(scale[0]) * (self.scales if at is None else self.scales[at])


class SearchIndex:
    """Keyword and vector search over one knowledge base's file, on the thread of the connection passed in."""

    def __init__(self, dimensions: int) -> None:
        self._dimensions = dimensions
        self._rows: _Rows | None = None
        self._norms = np.zeros(0)  # BM25's length normalisation of each row, as of `_rows`
        self._version = -1  # data_version when `_rows` was loaded
        self._prepared = False
        self._counts: dict[str, int] = {}  # term -> chunks holding it
        self._postings: OrderedDict[str, list[Postings]] = OrderedDict()
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
        scores, norms = np.zeros(total), self._norms
        for term in terms:
            idf = bm25_idf(total, self._counts[term])
            for at, tf in self._postings_of(db, term, rows):  # parts hold different rows
                scores[at] += idf * tf * (BM25_K1 + 1) / (tf + norms[at])
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
        at = None if documents is None else np.flatnonzero(rows.allowed(documents))
        picked = _best(rows.estimates(query, at), limit * _OVERSAMPLE)
        candidates = picked if at is None else at[picked]
        exact = _vectors(db, rows.rows[candidates])
        numbers = rows.rows[candidates].tolist()
        held = [(c, exact[row]) for c, row in zip(candidates, numbers, strict=True) if row in exact]
        if not held:  # deleted since
            return []
        scores = np.stack([vector for _, vector in held]).astype(np.float64) @ query
        return [ScoredChunk(rows.chunk_ids[held[i][0]], float(scores[i])) for i in _best(scores, limit)]

    def _current(self, db: sqlite3.Connection) -> _Rows:
        """The rows as of the last commit by anyone, with the cached postings brought up to date."""
        version: int = db.execute("PRAGMA data_version").fetchone()[0]
        if self._rows is None or version != self._version:
            old = self._rows
            self._rows, kept, added = _load(db, old, self._dimensions, texts=bool(self._postings))
            self._version = version
            average = float(self._rows.lengths.mean()) if len(self._rows.lengths) else 1.0
            self._norms = BM25_K1 * (1 - BM25_B + BM25_B * self._rows.lengths / (average or 1.0))
            if old is None or not self._postings or len(added) * _CARRY_SHARE > len(old.rows):
                self._postings.clear()
                self._held = 0
            else:
                self._carry(db, kept, added, self._rows)
            # a term's count is its postings' length; counts of other terms are read again
            self._counts = {term: _size(parts) for term, parts in self._postings.items()}
        return self._rows

    def _carry(
        self, db: sqlite3.Connection, kept: npt.NDArray[np.bool_] | None, added: list[tuple[int, str]], rows: _Rows
    ) -> None:
        """Cached postings moved past a commit: deleted rows dropped, added rows' postings (FTS5-tokenised) appended."""
        moved = None if kept is None else np.cumsum(kept) - 1
        fresh: dict[str, list[tuple[int, int]]] = {}
        if added:
            self._prepare(db)
            db.executemany("INSERT INTO temp.fresh (rowid, text) VALUES (?, ?)", added)
            try:
                # the new rows' postings in one read (not one per cached term)
                for term, row, count in db.execute(
                    "SELECT term, doc, count(*) FROM temp.fresh_postings GROUP BY term, doc"
                ):
                    if term in self._postings:
                        fresh.setdefault(term, []).append((row, count))
            finally:
                db.execute("DELETE FROM temp.fresh")
        # with nothing deleted, only the terms the new rows hold change
        for term in list(self._postings) if kept is not None else list(fresh):
            parts = self._postings[term]
            if moved is not None and kept is not None:
                parts = [(moved[at[kept[at]]], tf[kept[at]]) for at, tf in parts]
            if term in fresh:  # a part of its own: the cached arrays are not copied
                pairs = np.array(fresh[term], dtype=np.int64)
                where, held = rows.positions(pairs[:, 0])
                parts.append((where[held], pairs[held, 1].astype(np.float64)))
            if len(parts) > _MAX_PARTS:
                parts = [(np.concatenate([at for at, _ in parts]), np.concatenate([tf for _, tf in parts]))]
            self._postings[term] = parts
        self._held = sum(_size(parts) for parts in self._postings.values())

    def _prepare(self, db: sqlite3.Connection) -> None:
        if not self._prepared:
            for statement in (
                f"CREATE VIRTUAL TABLE temp.query USING fts5(text, tokenize='{TOKENIZE}')",
                "CREATE VIRTUAL TABLE temp.query_terms USING fts5vocab(temp, query, row)",
                f"CREATE VIRTUAL TABLE temp.fresh USING fts5(text, tokenize='{TOKENIZE}')",
                "CREATE VIRTUAL TABLE temp.fresh_postings USING fts5vocab(temp, fresh, instance)",
                "CREATE VIRTUAL TABLE temp.chunk_terms USING fts5vocab(main, chunks_fts, row)",
                "CREATE VIRTUAL TABLE temp.chunk_postings USING fts5vocab(main, chunks_fts, instance)",
            ):
                db.execute(statement)
            self._prepared = True

    def _tokens(self, db: sqlite3.Connection, words: list[str]) -> list[str]:
        """`words` as FTS5 indexes them (stemmed, folded): through a temp FTS5 table with the same tokenizer."""
        self._prepare(db)
        db.execute("INSERT INTO temp.query (rowid, text) VALUES (1, ?)", (" ".join(words),))
        try:
            return [term for (term,) in db.execute("SELECT term FROM temp.query_terms")]
        finally:
            db.execute("DELETE FROM temp.query")

    def _informative(self, db: sqlite3.Connection, terms: list[str], total: int) -> list[str]:
        """`terms` worth looking up (see informative()), their chunk counts cached until the next commit."""
        for term in terms:
            if term not in self._counts:
                if len(self._counts) >= _MAX_COUNTED:
                    self._counts = {term: _size(parts) for term, parts in self._postings.items()}
                row = db.execute("SELECT doc FROM temp.chunk_terms WHERE term = ?", (term,)).fetchone()
                self._counts[term] = row[0] if row else 0
        return informative({term: self._counts[term] for term in terms}, total)

    def _postings_of(self, db: sqlite3.Connection, term: str, rows: _Rows) -> list[Postings]:
        """Where the chunks holding `term` are in `rows`, and how often each holds it (in parts)."""
        cached = self._postings.get(term)
        if cached is not None:
            self._postings.move_to_end(term)
            return cached
        parts = [_postings(db, term, rows)]
        self._postings[term] = parts
        self._held += _size(parts)
        while self._held > _MAX_POSTINGS and len(self._postings) > 1:
            _, dropped = self._postings.popitem(last=False)
            self._held -= _size(dropped)
        return parts


def _postings(db: sqlite3.Connection, term: str, rows: _Rows) -> Postings:
    """A term's postings in the chunks, as positions in `rows` (rows committed since left out)."""
    sql = "SELECT doc, count(*) FROM temp.chunk_postings WHERE term = ? GROUP BY doc"
    found = db.execute(sql, (term,)).fetchall()
    pairs = np.array(found, dtype=np.int64).reshape(-1, 2)
    at, held = rows.positions(pairs[:, 0])
    return at[held], pairs[held, 1].astype(np.float64)


def _best(scores: npt.NDArray[np.float64], limit: int) -> npt.NDArray[np.intp]:
    """Indices of the `limit` highest scores, best first (ties in index order)."""
    count = min(limit, scores.size)
    if count <= 0:
        return np.arange(0)
    best = np.argpartition(-scores, count - 1)[:count] if count < scores.size else np.arange(scores.size)
    order = np.lexsort((best, -scores[best]))
    return best[order]


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


def _load(
    db: sqlite3.Connection, old: _Rows | None, dimensions: int, *, texts: bool
) -> tuple[_Rows, npt.NDArray[np.bool_] | None, list[tuple[int, str]]]:
    """`old` without the rows deleted since, plus the rows added since, all read from one snapshot; also which of
    `old`'s rows were kept (None: all) and the rows added (with their text if `texts`, else empty)."""
    added: list[tuple[int, str]] = []
    db.execute("BEGIN")
    try:
        last = int(old.rows[-1]) if old is not None and len(old.rows) else 0
        kept: npt.NDArray[np.bool_] | None = None
        if old is not None:
            # counted and listed on the document index: the table's pages are mostly vectors, ten times the reading
            (count,) = db.execute(
                "SELECT (SELECT count(*) FROM chunks) - (SELECT count(*) FROM chunks WHERE row > ?)", (last,)
            ).fetchone()
            if count != len(old.rows):
                listed = db.execute("SELECT row FROM chunks INDEXED BY chunks_document WHERE row <= ?", (last,))
                kept = np.isin(old.rows, np.fromiter((r for (r,) in listed), np.int64), assume_unique=True)
        codes = dict(old.codes) if old is not None else {}
        parts: list[_Rows] = []
        cursor = db.execute(
            "SELECT c.row, c.id, c.document_id, c.vector, d.sz, iif(?, c.text, NULL) FROM chunks AS c"
            " JOIN chunks_fts_docsize AS d ON d.id = c.row WHERE c.row > ? ORDER BY c.row",
            (texts, last),
        )
        while batch := cursor.fetchmany(_LOAD_BATCH):
            vectors = np.frombuffer(b"".join(r[3] for r in batch), dtype="<f4").reshape(-1, dimensions)
            quantised, scales = _quantised(vectors.astype(np.float32))
            parts.append(_Rows(
                np.array([r[0] for r in batch], dtype=np.int64), np.array([r[1] for r in batch], dtype=object),
                np.array([codes.setdefault(r[2], len(codes)) for r in batch], dtype=np.int32), (quantised,), scales,
                np.array([_length(r[4]) for r in batch], dtype=np.float64),
            ))  # fmt: skip
            added += [(r[0], r[5] or "") for r in batch]
    finally:
        db.execute("COMMIT")
    held = [] if old is None else [_kept(old, kept)]
    if not parts:
        if held:
            return held[0], kept, added
        empty = _Rows(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0, np.int32), (), np.zeros(0, np.float32),
                      np.zeros(0), codes)  # fmt: skip
        return empty, kept, added
    segments = (*(held[0].segments if held else ()), np.concatenate([p.segments[0] for p in parts]))  # one new
    if len(segments) > _MAX_SEGMENTS:  # merge the newer ones; the first too once they outgrow it
        rest = np.concatenate(segments[1:])
        segments = (np.concatenate([segments[0], rest]),) if len(rest) > len(segments[0]) else (segments[0], rest)
    every = held + parts
    rows = _Rows(
        np.concatenate([p.rows for p in every]), np.concatenate([p.chunk_ids for p in every]),
        np.concatenate([p.documents for p in every]), segments, np.concatenate([p.scales for p in every]),
        np.concatenate([p.lengths for p in every]), codes,
    )  # fmt: skip
    return rows, kept, added


def _kept(old: _Rows, kept: npt.NDArray[np.bool_] | None) -> _Rows:
    """`old` with only the rows `kept` (None: all); only segments that lost rows are copied."""
    if kept is None:
        return old
    segments, start = [], 0
    for segment in old.segments:
        mask = kept[start : start + len(segment)]
        segments.append(segment if mask.all() else segment[mask])
        start += len(segment)
    return _Rows(old.rows[kept], old.chunk_ids[kept], old.documents[kept], tuple(s for s in segments if len(s)),
                 old.scales[kept], old.lengths[kept], old.codes)  # fmt: skip
