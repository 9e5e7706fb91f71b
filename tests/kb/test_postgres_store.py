"""What the PostgreSQL store keeps beside Bedrock's chunk table: the keyword postings, written and removed with their
documents, and built for a knowledge base made before they existed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from quarry.kb._models import ChunkRecord, KnowledgeBaseConfig
from quarry.kb._postgres_store import PostgresBackend
from quarry.store import MIGRATIONS, PostgresDatabase

from .conftest import fresh_database
from .test_stores import DIMENSIONS, add, document, local, unit_vectors

POSTINGS = 'SELECT term, document_id, chunks, tokens, postings FROM quarry_kb_terms."{}"'


@pytest.fixture
async def url(postgres_url: str) -> str:
    return await fresh_database(postgres_url)


@pytest.fixture
async def backend(url: str) -> AsyncIterator[PostgresBackend]:
    made = PostgresBackend(url)
    yield made
    await made.close()


async def query(url: str, sql: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


async def keys(url: str, name: str = "notes") -> set[tuple[object, ...]]:
    """(term, document) of every postings row."""
    return {row[:2] for row in await query(url, POSTINGS.format(name))}


async def test_postings_are_written_and_removed_with_their_documents(backend: PostgresBackend, url: str) -> None:
    store = await local(backend)
    await add(store, "a", ["The apples and an apple pie!"], 1)  # stemmed, without stop words
    await add(store, "b", ["banana bread", "banana split"], 2)
    rows = {row[:2]: row[2:] for row in await query(url, POSTINGS.format("notes"))}
    assert set(rows) == {("", "a"), ("appl", "a"), ("pie", "a"), ("", "b"), ("banana", "b"), ("bread", "b"),
                         ("split", "b")}  # fmt: skip
    chunks, tokens, _ = rows["appl", "a"]
    assert (chunks, tokens) == (1, 2)
    chunks, tokens, ids = rows["", "a"]  # every chunk, every word, the chunk ids
    assert (chunks, tokens, len(ids)) == (1, 3, 16)
    chunks, tokens, _ = rows["banana", "b"]
    assert (chunks, tokens) == (2, 2)
    chunks, tokens, ids = rows["", "b"]
    assert (chunks, tokens, len(ids)) == (2, 4, 32)

    await add(store, "c", ["cherry tart"], 3, replaces="b")
    assert await keys(url) == {("", "a"), ("appl", "a"), ("pie", "a"), ("", "c"), ("cherri", "c"), ("tart", "c")}
    await store.remove_documents(["a"])
    assert await keys(url) == {("", "c"), ("cherri", "c"), ("tart", "c")}
    same = str(uuid.uuid4())
    broken = [ChunkRecord(same, "d", 0, "durian"), ChunkRecord(same, "d", 1, "dates")]  # the second insert fails
    with pytest.raises(asyncpg.UniqueViolationError):
        await store.put_document(document("d", 2), broken, unit_vectors(2, 4), replaces="c")
    assert await keys(url) == {("", "c"), ("cherri", "c"), ("tart", "c")}  # rolled back with the chunks


async def test_dropping_a_knowledge_base_drops_its_postings(backend: PostgresBackend, url: str) -> None:
    store = await local(backend)
    await add(store, "a", ["apple pie"], 1)
    other = await local(backend, "other")
    await add(other, "a", ["apple tart"], 2)
    assert await backend.drop("notes")
    assert await query(url, """SELECT to_regclass('quarry_kb_terms."notes"')""") == [(None,)]
    assert await keys(url, "other") == {("", "a"), ("appl", "a"), ("tart", "a")}
    await local(backend)  # the name is free again, its postings empty
    assert await keys(url) == set()


async def test_a_knowledge_base_made_before_postings_gets_them_when_opened(backend: PostgresBackend, url: str) -> None:
    store = await local(backend, "old")
    await add(store, "a", ["apple pie", "apple crumble with apple", "", "pear"], 1)
    await add(store, "b", ["banana bread", "banana split and apple"], 2)
    written = sorted(await query(url, POSTINGS.format("old")))
    hits = await store.keyword_search("pear banana crumble", 10)
    assert len(hits) == 4
    # the layout before postings: no postings table, and a generated tsvector column
    await query(url, 'DROP TABLE quarry_kb_terms."old"')
    await query(
        url, """ALTER TABLE quarry_kb."old" ADD COLUMN words tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', chunks)) STORED""",
    )  # fmt: skip
    # a row Bedrock wrote: no Quarry document, left out of keyword search
    await query(url, """INSERT INTO quarry_kb."old" (id, chunks) VALUES (gen_random_uuid(), 'apple kiwi')""")

    opened = [PostgresBackend(url), PostgresBackend(url)]
    try:
        # both open at once: one builds the postings, the other waits for them
        stores = await asyncio.gather(*(b.open("old") for b in opened))
        assert sorted(await query(url, POSTINGS.format("old"))) == written
        assert await stores[0].keyword_search("pear banana crumble", 10) == hits
        assert await stores[1].keyword_search("kiwi", 10) == []
        new, _ = await add(stores[1], "c", ["kiwi"], 3)
        assert [h.chunk_id for h in await stores[0].keyword_search("kiwi", 10)] == [new[0].id]
    finally:
        for made in opened:
            await made.close()


async def test_a_knowledge_base_without_documents_searches_to_nothing(backend: PostgresBackend) -> None:
    await backend.create(KnowledgeBaseConfig(name="empty", dimensions=DIMENSIONS))
    store = await backend.open("empty")
    assert await store.keyword_search("anything at all", 5) == []
    assert await store.keyword_search("anything", 5, documents={"x"}) == []


async def test_the_register_and_documents_tables_are_the_stores_migrations(url: str) -> None:
    """The database the server opens for keys and usage has the knowledge bases' shared tables before any
    knowledge base is opened; the kb package makes only per-knowledge-base tables."""
    database = await PostgresDatabase.open(url)
    try:
        await database.migrate(MIGRATIONS)
    finally:
        await database.close()
    made = (
        "SELECT to_regclass('quarry_knowledge_bases'), to_regclass('quarry_kb_documents'), to_regnamespace('quarry_kb')"
    )
    tables = await query(url, made)
    assert tables == [("quarry_knowledge_bases", "quarry_kb_documents", "quarry_kb")]


async def test_a_database_of_its_own_for_knowledge_bases_is_migrated_when_opened(
    backend: PostgresBackend, url: str
) -> None:
    """`kb.database_url` may name a database the server never migrates: the store backend applies the migrations."""
    assert await backend.names() == []
    versions = await query(url, "SELECT max(version) FROM quarry_migrations")
    assert versions == [(len(MIGRATIONS),)]
