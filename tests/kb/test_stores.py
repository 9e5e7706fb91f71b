"""The knowledge-base stores, each behaviour over both backends (SQLite files, PostgreSQL with pgvector)."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import uuid
from pathlib import Path

import numpy as np
import pytest

from quarry.errors import Conflict, InvalidRequest, NotFound
from quarry.kb._models import ChunkRecord, DocumentRecord, KnowledgeBaseConfig
from quarry.kb._sqlite_store import SQLiteBackend
from quarry.kb._store import KnowledgeStore, StoreBackend, search_terms

DIMENSIONS = 64
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]


def unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def document(doc_id: str, chunks: int = 0, **fields: object) -> DocumentRecord:
    values: dict[str, object] = {
        "source": f"/data/{doc_id}.md", "name": f"{doc_id}.md", "content_hash": f"sha-{doc_id}",
        "media_type": "text/markdown", "chunks": chunks, "added_at": 1000.0,
    }  # fmt: skip
    return DocumentRecord(id=doc_id, **(values | fields))  # type: ignore[arg-type]


def chunk_records(doc_id: str, texts: list[str]) -> list[ChunkRecord]:
    return [ChunkRecord(str(uuid.uuid4()), doc_id, i, text, start=i * 100, end=i * 100 + len(text))
            for i, text in enumerate(texts)]  # fmt: skip


def sentences(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 12)) for _ in range(count)]


async def local(backend: StoreBackend, name: str = "notes") -> KnowledgeStore:
    await backend.create(KnowledgeBaseConfig(name=name, dimensions=DIMENSIONS, created_at=1.0))
    return await backend.open(name)


async def add(store: KnowledgeStore, doc_id: str, texts: list[str], seed: int, replaces: str | None = None):
    chunks = chunk_records(doc_id, texts)
    vectors = unit_vectors(len(texts), seed)
    await store.put_document(document(doc_id, len(chunks)), chunks, vectors, replaces=replaces)
    return chunks, vectors


async def test_create_list_read_and_drop(backend: StoreBackend) -> None:
    assert await backend.names() == []
    config = KnowledgeBaseConfig(name="zeta-docs", dimensions=DIMENSIONS, description="Zeta", created_at=5.0)
    await backend.create(config)
    await backend.create(KnowledgeBaseConfig(name="alpha_1", dimensions=DIMENSIONS))
    assert await backend.names() == ["alpha_1", "zeta-docs"]
    assert await backend.config("zeta-docs") == config
    assert await backend.config("missing") is None
    with pytest.raises(Conflict):
        await backend.create(KnowledgeBaseConfig(name="zeta-docs", dimensions=8))
    assert await backend.config("zeta-docs") == config
    store = await backend.open("zeta-docs")
    assert store.config == config
    assert await backend.open("zeta-docs") is store
    assert await backend.drop("zeta-docs") is True
    assert await backend.drop("zeta-docs") is False
    assert await backend.names() == ["alpha_1"]
    with pytest.raises(NotFound):
        await backend.open("zeta-docs")
    with pytest.raises(InvalidRequest):
        await backend.create(KnowledgeBaseConfig(name="Not Valid"))
    await local(backend, "zeta-docs")  # the name is free again, and the new one starts empty
    assert await (await backend.open("zeta-docs")).counts() == (0, 0)


async def test_managed_knowledge_bases_are_listed_but_have_no_store(backend: StoreBackend) -> None:
    managed = KnowledgeBaseConfig(name="corp", kind="bedrock", knowledge_base_id="KB123", search_type="HYBRID")
    await backend.create(managed)
    await local(backend, "mine")
    assert await backend.names() == ["corp", "mine"]
    assert await backend.config("corp") == managed
    with pytest.raises(NotFound):
        await backend.open("corp")
    assert await backend.drop("corp") is True
    assert await backend.names() == ["mine"]


async def test_concurrent_creates_of_one_name_give_one_conflict(backend: StoreBackend) -> None:
    config = KnowledgeBaseConfig(name="race", dimensions=DIMENSIONS)
    results = await asyncio.gather(*(backend.create(config) for _ in range(4)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None)
    assert await backend.names() == ["race"]


async def test_a_document_and_its_chunks_come_back_whole(backend: StoreBackend) -> None:
    store = await local(backend)
    doc = document("d1", 2, pages=7, title="Handbook", tags=("hr", "policy"),
                   metadata={"team": "people", "year": 2024, "nested": {"a": [1, 2]}}, added_at=1234.5)  # fmt: skip
    chunks = [
        ChunkRecord(str(uuid.uuid4()), "d1", 0, "Holidays are 25 days.", page=3, start=10, end=31,
                    headings=("Leave", "Holidays"), parent="The whole leave section."),
        ChunkRecord(str(uuid.uuid4()), "d1", 1, "Sick leave needs a note.", page=None, start=40, end=64),
    ]  # fmt: skip
    await store.put_document(doc, chunks, unit_vectors(2, 1), replaces=None)
    assert await store.documents() == [doc]
    missing = str(uuid.uuid4())
    got = await store.chunks([chunks[1].id, missing, chunks[0].id, "not-a-uuid"])
    assert got == [(chunks[1], doc), (chunks[0], doc)]
    assert await store.counts() == (1, 2)
    with pytest.raises(Conflict):
        await store.put_document(doc, chunk_records("d1", ["again"]), unit_vectors(1, 2), replaces=None)
    with pytest.raises(InvalidRequest):
        await store.put_document(document("d2"), chunk_records("d2", ["a", "b"]), unit_vectors(1, 3), replaces=None)
    assert await store.counts() == (1, 2)


async def test_documents_are_listed_oldest_first(backend: StoreBackend) -> None:
    store = await local(backend)
    for doc_id, at in (("b", 3.0), ("a", 1.0), ("c", 2.0)):
        await store.put_document(
            document(doc_id, added_at=at), [], np.zeros((0, DIMENSIONS), np.float32), replaces=None
        )
    assert [d.id for d in await store.documents()] == ["a", "c", "b"]


async def test_replacing_a_document_swaps_it_in_one_step(backend: StoreBackend) -> None:
    store = await local(backend)
    old_chunks, _ = await add(store, "v1", ["the old zebra text", "more old text"], 1)
    await add(store, "other", ["unrelated words"], 2)
    new_chunks, new_vectors = await add(store, "v2", ["the new yak text"], 3, replaces="v1")
    assert [d.id for d in await store.documents()] == ["other", "v2"]
    assert await store.counts() == (2, 2)
    assert await store.chunks([c.id for c in old_chunks]) == []
    assert await store.keyword_search("zebra", 10) == []
    assert [h.chunk_id for h in await store.keyword_search("yak", 10)] == [new_chunks[0].id]
    assert (await store.vector_search(new_vectors[0], 1))[0].chunk_id == new_chunks[0].id
    # replacing a document by a new version under the same id
    same, _ = await add(store, "v2", ["the newest yak text"], 4, replaces="v2")
    assert [h.chunk_id for h in await store.keyword_search("newest", 10)] == [same[0].id]
    assert await store.counts() == (2, 2)


async def test_a_failed_write_leaves_the_previous_state(backend: StoreBackend) -> None:
    store = await local(backend)
    old, old_vectors = await add(store, "keep", ["the quokka stays"], 1)
    duplicate = ChunkRecord(str(uuid.uuid4()), "new", 0, "first")
    broken = [duplicate, ChunkRecord(duplicate.id, "new", 1, "the same id again: the insert fails midway")]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate") as failed:  # the database's own error
        await store.put_document(document("new", 2), broken, unit_vectors(2, 2), replaces="keep")
    assert not isinstance(failed.value, InvalidRequest)  # it failed inside the transaction, not before
    assert [d.id for d in await store.documents()] == ["keep"]
    assert await store.counts() == (1, 1)
    assert [h.chunk_id for h in await store.keyword_search("quokka", 5)] == [old[0].id]
    assert [h.chunk_id for h in await store.vector_search(old_vectors[0], 5)] == [old[0].id]


async def test_remove_documents(backend: StoreBackend) -> None:
    store = await local(backend)
    a, _ = await add(store, "a", ["apple pie"], 1)
    b, _ = await add(store, "b", ["banana bread", "banana split"], 2)
    c, _ = await add(store, "c", ["cherry tart"], 3)
    assert await store.remove_documents(["a", "c", "nope"]) == 2
    assert await store.remove_documents([]) == 0
    assert [d.id for d in await store.documents()] == ["b"]
    assert await store.counts() == (1, 2)
    assert await store.chunks([a[0].id, b[1].id, c[0].id]) == [(b[1], document("b", 2))]
    assert await store.keyword_search("apple cherry banana", 10) != []
    assert {h.chunk_id for h in await store.keyword_search("apple cherry banana", 10)} == {b[0].id, b[1].id}
    assert {h.chunk_id for h in await store.vector_search(unit_vectors(1, 9)[0], 10)} == {b[0].id, b[1].id}


async def test_keyword_search_ranks_the_rare_term_first(backend: StoreBackend) -> None:
    store = await local(backend)
    texts = sentences(40, 1)
    texts[17] = texts[17] + " xylophone"
    chunks, _ = await add(store, "d", texts, 1)
    hits = await store.keyword_search("golf xylophone", 5)
    assert hits[0].chunk_id == chunks[17].id
    common = await store.keyword_search("golf", 3)  # in most chunks: any of them may come first
    assert len(common) == 3
    assert all(h.score > 0 for h in hits + common)
    assert all(a.score >= b.score for results in (hits, common) for a, b in itertools.pairwise(results))
    assert await store.keyword_search("nothing-matches-zzzz", 5) == []
    # stemmed, the exact word still matches
    assert [h.chunk_id for h in await store.keyword_search("XYLOPHONE", 5)] == [chunks[17].id]


async def test_keyword_search_finds_other_forms_of_a_word(backend: StoreBackend) -> None:
    store = await local(backend)
    chunks, _ = await add(store, "d", ["She played the violins", "a drum beats", "the violinist plays"], 1)
    assert [h.chunk_id for h in await store.keyword_search("violin", 5)] == [chunks[0].id]
    assert {h.chunk_id for h in await store.keyword_search("playing", 5)} == {chunks[0].id, chunks[2].id}


@pytest.mark.parametrize(
    "text",
    ['"', '"xylophone', "xylophone*", "NEAR(xylophone", "-xylophone", "xylophone AND", "(", "***", "!@#$%^&*()",
     "'", "xylophone' OR 1=1 --", "a:b", "^xylophone", "xylophone | !", "\\", "  "],
)  # fmt: skip
async def test_keyword_search_takes_any_text_as_plain_words(backend: StoreBackend, text: str) -> None:
    store = await local(backend)
    chunks, _ = await add(store, "d", ["the xylophone plays", "a drum beats"], 1)
    hits = await store.keyword_search(text, 5)
    if "xylophone" in text:
        assert [h.chunk_id for h in hits] == [chunks[0].id]
    else:
        assert all(h.chunk_id in {c.id for c in chunks} for h in hits)


async def test_keyword_search_filtered_by_document(backend: StoreBackend) -> None:
    store = await local(backend)
    a, _ = await add(store, "a", ["kiwi kiwi kiwi", "lemon"], 1)
    b, _ = await add(store, "b", ["kiwi once"], 2)
    assert [h.chunk_id for h in await store.keyword_search("kiwi", 5)] == [a[0].id, b[0].id]
    assert [h.chunk_id for h in await store.keyword_search("kiwi", 5, documents={"b"})] == [b[0].id]
    assert await store.keyword_search("kiwi", 5, documents=[]) == []
    assert await store.keyword_search("kiwi", 5, documents=["zzz"]) == []


def bm25(texts: dict[str, str], query: str) -> dict[str, float]:
    """FTS5's bm25 (k1 = 1.2, b = 0.75, IDF floored at 1e-6) of each chunk holding a word of `query`, less the words
    in half the chunks or more (all but the rarest when all are), as both stores leave them out."""
    tokens = {key: re.findall(r"[^\W_]+", text.lower()) for key, text in texts.items()}
    total, average = len(tokens), sum(map(len, tokens.values())) / len(tokens)
    counts = {term: sum(term in words for words in tokens.values()) for term in search_terms(query)}
    found = sorted((term for term, n in counts.items() if n), key=counts.__getitem__)
    scores: dict[str, float] = {}
    for term in [term for term in found if 2 * counts[term] < total] or found[:1]:
        idf = max(math.log((total - counts[term] + 0.5) / (counts[term] + 0.5)), 1e-6)
        for key, words in tokens.items():
            if tf := words.count(term):
                scores[key] = scores.get(key, 0.0) + idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / average))
    return scores


async def test_keyword_search_is_fts5_bm25_on_both_stores(backend: StoreBackend) -> None:
    store = await local(backend)
    rng = np.random.default_rng(3)
    weights = 1 / np.arange(1, len(WORDS) + 1)  # a few common words, more rare ones
    texts: dict[str, str] = {}
    document_of: dict[str, str] = {}
    for d, size in enumerate([1, 40, 7, 250]):  # chunk numbers up to 249 in one document, 0 only in another
        words = [" ".join(rng.choice(WORDS, int(rng.integers(3, 30)), p=weights / weights.sum())) for _ in range(size)]
        if d == 2:
            words[3] = "... --- ..."  # a chunk with no words still counts among the chunks
        chunks, _ = await add(store, f"d{d}", words, d)
        texts |= {c.id: c.text for c in chunks}
        document_of |= {c.id: c.document_id for c in chunks}
    many = {"d1", "d2", *(f"x{n}" for n in range(200))}  # a long filter (PostgreSQL tests each posting row)
    cases = [("lima kilo", None), ("juliet, india & hotel", None), ("alpha", None), ("alpha bravo lima", None),
             ("kilo golf delta", {"d0", "d2"}), ("hotel", {"d3"}), ("charlie juliet", {"d1", "d3", "x"}),
             ("juliet lima", many)]  # fmt: skip
    for query, allowed in cases:
        expected = {
            key: score for key, score in bm25(texts, query).items() if allowed is None or document_of[key] in allowed
        }
        best = sorted(expected.values(), reverse=True)
        assert len(best) > 10 or allowed is not None  # the best 10 are a choice
        hits = await store.keyword_search(query, 10, allowed)
        assert [h.score for h in hits] == pytest.approx(best[:10], rel=1e-9), query
        assert [h.score for h in hits] == pytest.approx([expected[h.chunk_id] for h in hits], rel=1e-9), query


async def test_keyword_search_leaves_out_words_in_half_the_chunks_or_more(backend: StoreBackend) -> None:
    store = await local(backend)
    texts = ["common words here", "common and rare", "common usual words", "nothing else"]
    chunks, _ = await add(store, "d", texts, 1)
    # BM25 gives "common" (3 chunks of 4) an IDF of 1e-6: it cannot reorder the chunks holding "rare", so it is left
    # out rather than make every chunk holding it match
    assert [h.chunk_id for h in await store.keyword_search("common rare", 5)] == [chunks[1].id]
    # when all are, the rarest is still looked up
    assert {h.chunk_id for h in await store.keyword_search("words common", 5)} == {chunks[0].id, chunks[2].id}


async def test_vector_search_finds_the_nearest_with_exact_cosine_scores(backend: StoreBackend) -> None:
    store = await local(backend)
    chunks, vectors = await add(store, "d", sentences(300, 2), 5)
    query = unit_vectors(1, 99)[0] * 3.0  # not unit length: cosine does not care
    hits = await store.vector_search(query, 10)
    expected = vectors @ (query / np.linalg.norm(query))
    best = np.argsort(-expected)[:10]
    assert [h.chunk_id for h in hits] == [chunks[i].id for i in best]
    assert np.allclose([h.score for h in hits], expected[best], atol=1e-5)
    assert len(await store.vector_search(query, 1000)) == 300
    assert (await store.vector_search(vectors[42], 1))[0].chunk_id == chunks[42].id
    with pytest.raises(InvalidRequest):
        await store.vector_search(np.ones(DIMENSIONS + 1, np.float32), 3)


async def test_vector_search_respects_the_document_filter(backend: StoreBackend) -> None:
    store = await local(backend)
    rare, rare_vectors = await add(store, "rare", sentences(5, 3), 3)
    for n in range(6):
        await add(store, f"bulk{n}", sentences(500, n), 100 + n)
    query = unit_vectors(1, 7)[0]
    hits = await store.vector_search(query, 10, documents={"rare"})
    expected = rare_vectors @ query
    order = np.argsort(-expected)
    assert [h.chunk_id for h in hits] == [rare[i].id for i in order]
    assert np.allclose([h.score for h in hits], expected[order], atol=1e-5)
    assert await store.vector_search(query, 10, documents=set()) == []
    assert await store.vector_search(query, 10, documents={"missing"}) == []
    # a filter allowing a third of the rows: still `limit` rows, all allowed
    allowed = {"bulk0", "bulk1"}
    hits = await store.vector_search(query, 50, documents=allowed)
    assert len(hits) == 50
    found = {c.document_id for c, _ in await store.chunks([h.chunk_id for h in hits])}
    assert found <= allowed


async def test_counts(backend: StoreBackend) -> None:
    store = await local(backend)
    assert await store.counts() == (0, 0)
    await add(store, "a", ["one", "two", "three"], 1)
    await add(store, "b", ["four"], 2)
    assert await store.counts() == (2, 4)


async def test_sqlite_sees_what_another_process_writes(tmp_path: Path) -> None:
    server, cli = SQLiteBackend(tmp_path / "kb"), SQLiteBackend(tmp_path / "kb")
    try:
        serving = await local(server)
        first, first_vectors = await add(serving, "first", ["the first words"], 1)
        assert [h.chunk_id for h in await serving.vector_search(first_vectors[0], 5)] == [first[0].id]
        ingesting = await cli.open("notes")
        second, second_vectors = await add(ingesting, "second", ["the second words", "more of them"], 2)
        hits = await serving.vector_search(second_vectors[1], 5)
        assert hits[0].chunk_id == second[1].id
        assert len(hits) == 3
        assert [h.chunk_id for h in await serving.keyword_search("second", 5)] == [second[0].id]
        await ingesting.remove_documents(["first"])
        assert {h.chunk_id for h in await serving.vector_search(first_vectors[0], 5)} == {c.id for c in second}
        assert await serving.counts() == (1, 2)
        await cli.create(KnowledgeBaseConfig(name="later", dimensions=DIMENSIONS))
        assert await server.names() == ["later", "notes"]
    finally:
        await server.close()
        await cli.close()


async def test_sqlite_files_are_named_after_the_knowledge_base_and_dropped_whole(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "kb")
    try:
        store = await local(backend, "handbook")
        await add(store, "d", ["words"], 1)
        await store.vector_search(unit_vectors(1, 1)[0], 1)
        assert (tmp_path / "kb" / "handbook.sqlite").is_file()
        assert await backend.drop("handbook")
        assert sorted(p.name for p in (tmp_path / "kb").iterdir()) == []
    finally:
        await backend.close()
