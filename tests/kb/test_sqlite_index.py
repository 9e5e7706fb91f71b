"""The SQLite store's in-memory index: BM25 that equals FTS5's own bm25(), and int8 vectors rescored exactly."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from quarry.kb import _sqlite_index
from quarry.kb._models import ChunkRecord, DocumentRecord, KnowledgeBaseConfig
from quarry.kb._sqlite_store import SQLiteBackend, SQLiteStore
from quarry.kb._store import search_terms

DIMENSIONS = 32
TEXTS = [
    "Indexes speed up queries; an index on two columns is a composite index.",
    "The café serves crème brûlée. Cafe culture.",
    "Vacuum rebuilds the database file, repacking it into a minimal amount of disk space.",
    "A short one.",
    "queries queries queries about indexing and the query planner",
    "Triggers run when rows are inserted, updated or deleted; a trigger may update an index.",
    "The query planner picks an index for each table in the query, or scans the table.",
    "Write-ahead logging: readers do not block writers and a writer does not block readers.",
]
QUERIES = ["index", "indexes query", "cafe brulee", "CRÈME", "planner table scan", "readers writers block",
           "vacuum the disk", "trigger update index query", "nothing here at all"]  # fmt: skip


def fts5_bm25(path: Path, text: str, documents: list[str] | None = None) -> dict[str, float]:
    """What FTS5 itself scores, each query word a phrase, leaving out the words in half the chunks or more (but the
    rarest, if all are), as the store used to ask it."""
    db = sqlite3.connect(path)
    try:
        (total,) = db.execute("SELECT count(*) FROM chunks").fetchone()
        counts = {w: db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{w}"',)).fetchone()[0]
                  for w in search_terms(text)}  # fmt: skip
        found = sorted((w for w in counts if counts[w]), key=counts.__getitem__)
        informative = [w for w in found if 2 * counts[w] < total] or found[:1]
        if not informative:
            return {}
        match = " OR ".join(f'"{w}"' for w in informative)
        where = "" if documents is None else f" AND c.document_id IN ({', '.join('?' * len(documents))})"
        rows = db.execute(
            "SELECT c.id, -bm25(chunks_fts) FROM chunks_fts JOIN chunks AS c ON c.row = chunks_fts.rowid"
            f" WHERE chunks_fts MATCH ?{where}",
            (match, *(documents or [])),
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


async def filled(tmp_path: Path, texts: list[str], per_document: int = 2) -> tuple[SQLiteBackend, SQLiteStore]:
    backend = SQLiteBackend(tmp_path / "kb")
    await backend.create(KnowledgeBaseConfig(name="docs", dimensions=DIMENSIONS))
    store = await backend.open("docs")
    rng = np.random.default_rng(3)
    for start in range(0, len(texts), per_document):
        doc_id = f"d{start}"
        part = texts[start : start + per_document]
        chunks = [ChunkRecord(str(uuid.uuid4()), doc_id, i, t, start=0, end=len(t)) for i, t in enumerate(part)]
        document = DocumentRecord(doc_id, f"/{doc_id}.txt", f"{doc_id}.txt", doc_id, "text/plain", len(part))
        vectors = rng.standard_normal((len(part), DIMENSIONS)).astype(np.float32)
        await store.put_document(document, chunks, vectors, replaces=None)
    return backend, store


@pytest.mark.parametrize("query", QUERIES)
async def test_keyword_scores_equal_fts5_bm25(tmp_path: Path, query: str) -> None:
    backend, store = await filled(tmp_path, TEXTS)
    try:
        expected = fts5_bm25(tmp_path / "kb" / "docs.sqlite", query)
        hits = await store.keyword_search(query, 20)
        assert {h.chunk_id: pytest.approx(h.score, rel=1e-9) for h in hits} == expected
        assert [h.score for h in hits] == pytest.approx(sorted(expected.values(), reverse=True), rel=1e-9)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        filtered = await store.keyword_search(query, 20, documents=["d0", "d4"])
        assert {h.chunk_id: h.score for h in filtered} == pytest.approx(
            fts5_bm25(tmp_path / "kb" / "docs.sqlite", query, ["d0", "d4"])
        )
    finally:
        await backend.close()


async def test_a_small_postings_cache_gives_the_same_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, store = await filled(tmp_path, TEXTS)
    try:
        before = {q: await store.keyword_search(q, 20) for q in QUERIES}
        store._index._postings.clear()
        monkeypatch.setattr(_sqlite_index, "_MAX_POSTINGS", 2)
        for query in QUERIES * 2:
            assert await store.keyword_search(query, 20) == before[query]
        assert len(store._index._postings) <= 2
    finally:
        await backend.close()


async def test_cached_postings_follow_a_replaced_document(tmp_path: Path) -> None:
    backend, store = await filled(tmp_path, TEXTS)
    try:
        assert len(await store.keyword_search("vacuum", 5)) == 1
        text = "vacuum vacuum: the VACUUM command"
        chunk = ChunkRecord(str(uuid.uuid4()), "new", 0, text, start=0, end=len(text))
        document = DocumentRecord("new", "/d2.txt", "d2.txt", "new", "text/plain", 1)
        await store.put_document(document, [chunk], np.ones((1, DIMENSIONS), np.float32), replaces="d2")
        hits = await store.keyword_search("vacuum", 5)
        assert [h.chunk_id for h in hits] == [chunk.id]
        assert hits[0].score == pytest.approx(fts5_bm25(tmp_path / "kb" / "docs.sqlite", "vacuum")[chunk.id])
    finally:
        await backend.close()


async def test_int8_candidates_rescored_exactly_find_the_true_nearest(tmp_path: Path) -> None:
    """Thousands of random vectors (the hardest case: no structure) and queries near and far from them."""
    backend = SQLiteBackend(tmp_path / "kb")
    await backend.create(KnowledgeBaseConfig(name="docs", dimensions=256))
    store = await backend.open("docs")
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((4000, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = []
    try:
        for d in range(40):
            chunks = [ChunkRecord(str(uuid.uuid4()), f"d{d}", i, "text", start=0, end=4) for i in range(100)]
            ids += [c.id for c in chunks]
            document = DocumentRecord(f"d{d}", f"/d{d}", f"d{d}", f"d{d}", "text/plain", 100)
            await store.put_document(document, chunks, vectors[d * 100 : d * 100 + 100], replaces=None)
        for query in [*rng.standard_normal((10, 256)).astype(np.float32), vectors[7] + 0.1 * vectors[8]]:
            exact = vectors @ (query / np.linalg.norm(query))
            best = np.argsort(-exact)[:50]
            hits = await store.vector_search(query, 50)
            assert [h.chunk_id for h in hits] == [ids[i] for i in best]
            assert np.allclose([h.score for h in hits], exact[best], atol=1e-5)
    finally:
        await backend.close()


async def test_the_index_follows_commits_from_another_connection(tmp_path: Path) -> None:
    """Searches between commits made elsewhere (the CLI ingesting beside the server): cached postings carried over
    and vector segments added and merged, results always what FTS5 and an exact scan give."""
    backend, store = await filled(tmp_path, TEXTS * 5)
    other = SQLiteBackend(tmp_path / "kb")
    writer = await other.open("docs")
    path = tmp_path / "kb" / "docs.sqlite"
    rng = np.random.default_rng(8)
    try:
        for query in QUERIES:
            await store.keyword_search(query, 50)
        for step in range(12):
            text = f"{TEXTS[step % len(TEXTS)]} step{step} index"
            chunk = ChunkRecord(str(uuid.uuid4()), f"new{step}", 0, text, start=0, end=len(text))
            document = DocumentRecord(f"new{step}", f"/new{step}", f"new{step}", f"new{step}", "text/plain", 1)
            vector = rng.standard_normal((1, DIMENSIONS)).astype(np.float32)
            await writer.put_document(document, [chunk], vector, replaces=f"d{2 * step}" if step % 3 == 0 else None)
            if step % 4 == 1:
                await writer.remove_documents([f"d{2 * step + 1}"])
            for query in QUERIES:
                hits = await store.keyword_search(query, 50)
                assert {h.chunk_id: h.score for h in hits} == pytest.approx(fts5_bm25(path, query))
            assert store._index._postings  # carried over, not dropped
            query_vector = rng.standard_normal(DIMENSIONS).astype(np.float32)
            with sqlite3.connect(path) as db:
                ids, blobs = zip(*db.execute("SELECT id, vector FROM chunks").fetchall(), strict=True)
            matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ids), DIMENSIONS)
            exact = matrix @ (query_vector / np.linalg.norm(query_vector))
            best = np.argsort(-exact)[:10]
            assert [h.chunk_id for h in await store.vector_search(query_vector, 10)] == [ids[i] for i in best]
        assert len(store._index._rows.segments) <= _sqlite_index._MAX_SEGMENTS  # type: ignore[union-attr]
    finally:
        await other.close()
        await backend.close()
