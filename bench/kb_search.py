"""Knowledge-base search latency on 100,000 chunks: keyword, vector, and both together as hybrid retrieval does
(one keyword and one vector search, top 50 each, fused, then the best 10 chunks fetched with `chunks()`).

    PYTHONPATH=src .venv/bin/python bench/kb_search.py [--backends sqlite,postgres] [--chunks 100000]

The stores are built once into bench/.cache/kb_search/ (gitignored; building takes minutes) and reused. PostgreSQL
runs from `pgserver` with its data in that folder. Target: SQLite hybrid p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from quarry.emulator._embeddings import embedding
from quarry.kb._models import ChunkRecord, DocumentRecord, KnowledgeBaseConfig
from quarry.kb._postgres_store import PostgresBackend
from quarry.kb._sqlite_store import SQLiteBackend
from quarry.kb._store import KnowledgeStore, StoreBackend

CACHE = Path(__file__).parent / ".cache" / "kb_search"
DIMENSIONS = 1024
VOCABULARY = 4000
CHUNKS_PER_DOCUMENT = 100
QUERIES = 200
TOP = 50
FETCH = 10
NAME = "bench"
DATA = "v2"  # the cached stores' data: v2 has the emulator's embeddings (v1: random vectors)


def vocabulary(rng: np.random.Generator) -> np.ndarray:
    """Pronounceable made-up words, and their Zipf weights (a few very common words, a long tail of rare ones)."""
    onsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr", "pl", "gr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        syllables = rng.integers(1, 4)
        words.add(
            "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
            + rng.choice(["", "n", "s", "r", "t"])
        )
    return np.array(sorted(words, key=lambda w: (len(w), w)))


def zipf_weights() -> np.ndarray:
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    return weights / weights.sum()


def text(rng: np.random.Generator, words: np.ndarray, weights: np.ndarray, count: int) -> str:
    picked = rng.choice(words, size=count, p=weights)
    sentences, start = [], 0
    while start < count:
        end = min(count, start + int(rng.integers(8, 20)))
        sentences.append(" ".join(picked[start:end]).capitalize() + ".")
        start = end
    return " ".join(sentences)


def embedded(texts: list[str]) -> np.ndarray:
    """The offline emulator's embeddings (words and character trigrams hashed into the vector): vectors with the
    text's structure, so a vector search's recall means something (random vectors defeat any index)."""
    return np.array([embedding(t, DIMENSIONS) for t in texts], dtype=np.float32)


def unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, DIMENSIONS), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def build(backend: StoreBackend, chunks: int) -> KnowledgeStore:
    """The same 100k chunks, whatever the backend (seeded)."""
    if NAME in await backend.names():
        await backend.drop(NAME)
    await backend.create(KnowledgeBaseConfig(name=NAME, dimensions=DIMENSIONS))
    store = await backend.open(NAME)
    if isinstance(backend, PostgresBackend):
        await hnsw_index(backend, build=False)
    rng = np.random.default_rng(1)
    words, weights = vocabulary(rng), zipf_weights()
    started = time.perf_counter()
    for d in range(chunks // CHUNKS_PER_DOCUMENT):
        doc_id = f"doc-{d:05d}"
        records = [
            ChunkRecord(str(uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | d << 16 | i)), doc_id, i,
                        text(rng, words, weights, int(rng.integers(60, 201))), start=i * 1000, end=i * 1000 + 999)
            for i in range(CHUNKS_PER_DOCUMENT)
        ]  # fmt: skip
        document = DocumentRecord(doc_id, f"/bench/{doc_id}.txt", f"{doc_id}.txt", doc_id, "text/plain",
                                  chunks=CHUNKS_PER_DOCUMENT, added_at=float(d))  # fmt: skip
        await store.put_document(document, records, embedded([r.text for r in records]), replaces=None)
        if d % 100 == 99:
            print(f"  {(d + 1) * CHUNKS_PER_DOCUMENT} chunks, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if isinstance(backend, PostgresBackend):
        await hnsw_index(backend, build=True)
    return store


async def hnsw_index(backend: PostgresBackend, *, build: bool) -> None:
    """Drop the HNSW index before a bulk load and build it after: far faster than growing it row by row."""
    pool = await backend._connected()  # the bench reaches into the layout the store documents
    async with pool.acquire() as connection:
        if not build:
            name = await connection.fetchval(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'quarry_kb' AND tablename = $1"
                " AND indexdef LIKE '%hnsw%'", NAME
            )  # fmt: skip
            await connection.execute(f'DROP INDEX quarry_kb."{name}"')
            return
        await connection.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        await connection.execute(f'CREATE INDEX ON quarry_kb."{NAME}" USING hnsw (embedding vector_cosine_ops)')
        await connection.execute(f'ANALYZE quarry_kb."{NAME}"')
        print(f"  HNSW index built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def queries(count: int = QUERIES) -> list[tuple[str, np.ndarray, list[str] | None]]:
    """~200 fixed queries: 2 to 8 words drawn like the text, a query vector, and every fifth filtered to 5 docs."""
    rng = np.random.default_rng(7)
    words, weights = vocabulary(np.random.default_rng(1)), zipf_weights()
    made = []
    for q in range(count):
        phrase = " ".join(rng.choice(words, size=int(rng.integers(2, 9)), p=weights))
        allowed = [f"doc-{int(n):05d}" for n in rng.integers(0, 1000, 5)] if q % 5 == 4 else None
        made.append((phrase, embedded([phrase])[0], allowed))
    return made


def percentiles(samples: list[float]) -> str:
    p50, p90, p99 = np.percentile(np.array(samples) * 1000, [50, 90, 99])
    return f"{p50:7.2f} {p90:7.2f} {p99:7.2f}"


def exact_nearest(chunks: int, count: int) -> list[set[str]] | None:
    """Each query's true top 50 by cosine, from the SQLite store's float32 vectors (both stores hold the same chunks),
    to tell how many of them a store's vector search finds (int8 + rescoring in SQLite, HNSW in PostgreSQL)."""
    path = CACHE / f"sqlite-{chunks}-{DATA}" / f"{NAME}.sqlite"
    if not path.exists():
        return None
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    rows = db.execute("SELECT id, vector FROM chunks").fetchall()
    db.close()
    ids = np.array([r[0] for r in rows], dtype=object)
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), DIMENSIONS)
    truth = []
    for _, vector, allowed in queries(count):
        if allowed is None:
            scores = matrix @ vector
            truth.append(set(ids[np.argpartition(-scores, TOP - 1)[:TOP]]))
    return truth


async def recall(store: KnowledgeStore, truth: list[set[str]], count: int) -> float:
    """Mean share of the true top 50 that the store's vector search returns."""
    found = [
        len({hit.chunk_id for hit in await store.vector_search(vector, TOP)} & best) / TOP
        for (_, vector, _), best in zip([q for q in queries(count) if q[2] is None], truth, strict=True)
    ]
    return float(np.mean(found))


async def hybrid(store: KnowledgeStore, phrase: str, vector: np.ndarray, allowed: list[str] | None) -> None:
    keyword, nearest = await asyncio.gather(
        store.keyword_search(phrase, TOP, allowed), store.vector_search(vector, TOP, allowed)
    )
    fused: dict[str, float] = {}
    for hits in (keyword, nearest):
        for rank, hit in enumerate(hits):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1 / (60 + rank)
    best = sorted(fused, key=fused.__getitem__, reverse=True)[:FETCH]
    assert len(await store.chunks(best)) == len(best)


async def during_ingest(store: KnowledgeStore, writer: KnowledgeStore, count: int) -> list[float]:
    """Hybrid searches each right after another connection (as the CLI would) commits a 100-chunk document; the
    documents are removed afterwards, so the store is as built again."""
    rng, words, weights = np.random.default_rng(3), vocabulary(np.random.default_rng(1)), zipf_weights()
    times, added = [], []
    try:
        for n, (phrase, vector, _) in enumerate(queries(count)[:20]):
            doc_id = f"ingest-{n:02d}"
            records = [ChunkRecord(str(uuid.uuid4()), doc_id, i, text(rng, words, weights, 120), start=0, end=1)
                       for i in range(CHUNKS_PER_DOCUMENT)]  # fmt: skip
            document = DocumentRecord(doc_id, f"/ingest/{doc_id}.txt", f"{doc_id}.txt", doc_id, "text/plain",
                                      chunks=CHUNKS_PER_DOCUMENT)  # fmt: skip
            await writer.put_document(document, records, embedded([r.text for r in records]), replaces=None)
            added.append(doc_id)
            started = time.perf_counter()
            await hybrid(store, phrase, vector, None)
            times.append(time.perf_counter() - started)
    finally:
        await writer.remove_documents(added)
    return times


async def measure(store: KnowledgeStore, count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"keyword": [], "vector": [], "hybrid": [], "filtered hybrid": []}

    for phrase, vector, allowed in queries(count):
        if allowed is None:
            started = time.perf_counter()
            await store.keyword_search(phrase, TOP)
            times["keyword"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await store.vector_search(vector, TOP)
            times["vector"].append(time.perf_counter() - started)
        started = time.perf_counter()
        await hybrid(store, phrase, vector, allowed)
        times["hybrid" if allowed is None else "filtered hybrid"].append(time.perf_counter() - started)
    return times


async def run(kind: str, chunks: int, count: int) -> list[str]:
    folder = CACHE / f"{kind}-{chunks}-{DATA}"
    server: Any = None
    if kind == "sqlite":
        backend: StoreBackend = SQLiteBackend(folder)
    else:
        import pgserver

        folder.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(folder / "pgdata", cleanup_mode="stop")
        backend = PostgresBackend(server.get_uri())
    try:
        built = folder / "built"
        if not built.exists():
            print(f"building the {kind} store of {chunks} chunks in {folder} (once)", file=sys.stderr)
            started = time.perf_counter()
            await build(backend, chunks)
            print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            built.touch()
        started = time.perf_counter()
        store = await backend.open(NAME)  # PostgreSQL: builds the keyword postings of a store made before them
        opened = time.perf_counter() - started
        assert await store.counts() == (chunks // CHUNKS_PER_DOCUMENT, chunks)
        started = time.perf_counter()
        await store.vector_search(unit(np.random.default_rng(0), 1)[0], TOP)  # SQLite: loads the index
        load = time.perf_counter() - started
        first = await measure(store, count)  # warm-up: caches (SQLite: each term's postings), plans
        times = await measure(store, count)
        truth = exact_nearest(chunks, count)
        found = None if truth is None else await recall(store, truth, count)
        other: StoreBackend = SQLiteBackend(folder) if kind == "sqlite" else PostgresBackend(server.get_uri())
        try:
            ingesting = await during_ingest(store, await other.open(NAME), count)
        finally:
            await other.close()
    finally:
        await backend.close()
        if server is not None:
            server.cleanup()
    return [
        *(f"{kind:8} {name:16} {percentiles(samples)}  (n={len(samples)})" for name, samples in times.items()),
        f"{kind:8} {'keyword, 1st pass':16} {percentiles(first['keyword'])}  (nothing cached yet)",
        f"{kind:8} {'hybrid, ingesting':16} {percentiles(ingesting)}  (n={len(ingesting)}, after commits elsewhere)",
        f"{kind:8} open: {opened * 1000:.0f} ms; first vector search (cold load): {load * 1000:.0f} ms",
        f"{kind:8} vector recall of the exact top {TOP}: " + ("-" if found is None else f"{found:.3f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=QUERIES, help="the first N of the fixed queries")
    args = parser.parse_args()
    lines = []
    for kind in args.backends.split(","):
        lines += asyncio.run(run(kind, args.chunks, args.queries))
    print(f"\n$ {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"{args.chunks} chunks, {DIMENSIONS} dimensions, top {TOP} per search, {FETCH} chunks fetched; ms:")
    print(f"{'backend':8} {'search':16} {'p50':>7} {'p90':>7} {'p99':>7}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
