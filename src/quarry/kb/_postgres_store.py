"""Knowledge bases in PostgreSQL with pgvector, laid out so Amazon Bedrock Knowledge Bases can use the same index.

Tables (the `postgres` extra, asyncpg); the register and the documents table are made by the store's migrations
(`quarry.store`), the chunk and postings tables here, when a knowledge base is created:

- `quarry_knowledge_bases (name PRIMARY KEY, config jsonb, created_at, owner, shared_with jsonb)`: the register,
  managed ones included; `owner` NULL is the admin's (every row made before owners were recorded).
- `quarry_kb_documents (kb, id, source, name, content_hash, media_type, chunks, pages, title, tags text[],
  metadata jsonb, added_at, rows_stored, seq)`: every local knowledge base's documents.
- One chunk table per local knowledge base, `quarry_kb."<name>"` (a schema of its own: no name can clash with
  another table, and knowledge-base names fit PostgreSQL's 63-character identifiers), in the layout Bedrock asks
  of an Aurora PostgreSQL vector store, so one index can serve Quarry and a Bedrock knowledge base alike:
  `id uuid PRIMARY KEY, embedding vector(<dimensions>), chunks text NOT NULL, metadata jsonb, custom_metadata
  jsonb` — Bedrock's field mapping is primary key `id`, vector `embedding`, text `chunks`, metadata `metadata`,
  custom metadata `custom_metadata`. Indexes: HNSW on `embedding vector_cosine_ops`, GIN on
  `to_tsvector('simple', chunks)` (what Bedrock's hybrid search needs). `metadata` holds Bedrock's keys —
  `x-amz-bedrock-kb-source-uri` (the document's source), `x-amz-bedrock-kb-chunk-id`,
  `x-amz-bedrock-kb-document-page-number` — and Quarry's `document_id`; `custom_metadata` the document's metadata
  and tags (what Bedrock filters on). Quarry's own columns (`document_id, ordinal, page, start_offset, end_offset,
  headings text[], parent`) are nullable, so rows that Bedrock writes fit too (they have no Quarry document, so
  `chunks()` and keyword search leave them out). Tables made before keyword postings also have `words`, a
  generated tsvector no longer read.
- Keyword postings per local knowledge base, `quarry_kb_terms."<name>" (term, document_id, chunks, tokens,
  postings bytea)`, one row per word and document, written in the transaction that writes the document's chunks
  and removed with them. The words are those of `to_tsvector('english', chunks)`: stemmed, as the SQLite store
  stems with porter, and without English stop words. `postings` holds, for each of the document's chunks holding
  the word, the chunk's number in the document, how often the word occurs in it and the chunk's length in words
  (three big-endian int4). The row with the empty term stands for every word: its `postings` are the document's
  chunk ids (16 bytes each, in number order). A knowledge base made before postings existed gets them when first
  opened.

Keyword search is BM25 as SQLite's FTS5 computes it (k1 = 1.2, b = 0.75, IDF log((N - n + 0.5) / (n + 0.5)),
at least 1e-6): PostgreSQL sends the postings of the query's words and numpy adds them up, exactly, far faster
than SQL can aggregate per chunk. (On eval/sqlite-docs, this formula over unstemmed words ranked worse than the
ts_rank_cd-based BM25 it replaces; over stemmed words every measure is better, and close to the SQLite store's.)

Vectors go over the wire in pgvector's binary format (a codec registered on each connection).
"""

# SQL text here is built only from fixed column lists and validated knowledge-base names; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import json
import math
import struct
import uuid
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from quarry.errors import Conflict, InvalidRequest, NotFound
from quarry.kb._models import (
    ChunkRecord,
    DocumentRecord,
    KnowledgeBaseConfig,
    Ownership,
    Registered,
    ScoredChunk,
    valid_name,
)
from quarry.kb._store import BM25_B, BM25_K1, Vectors, bm25_idf, informative, search_terms
from quarry.store import MIGRATIONS, PostgresDatabase

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresBackend", "PostgresStore"]

_SETUP_LOCK = 0x51A78  # pg_advisory lock id: one instance creates the extension at a time
# The register, the documents table and the two schemas are made by the store's migrations (quarry.store); the
# pgvector extension is made here, so that a database that keeps keys and usage but no knowledge base needs none.
_SCHEMA = "quarry_kb"  # the chunk tables
_TERMS = "quarry_kb_terms"  # the keyword postings, a table per knowledge base named as its chunk table
_DOCUMENT_COLUMNS = "id, source, name, content_hash, media_type, chunks, pages, title, tags, metadata, added_at"
_CHUNK_COLUMNS = "id, document_id, ordinal, chunks, page, start_offset, end_offset, headings, parent"
_CHUNK_TABLE_COLUMNS = ["id", "embedding", "chunks", "metadata", "custom_metadata", "document_id", "ordinal", "page",
                        "start_offset", "end_offset", "headings", "parent"]  # fmt: skip
_HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on `vector`
_EF_SEARCH_MAX = 1000  # pgvector's limit for hnsw.ef_search
_TERMS_TABLE = (
    "CREATE TABLE {terms} (term text NOT NULL, document_id text NOT NULL, chunks integer NOT NULL,"
    " tokens bigint NOT NULL, postings bytea NOT NULL)"
)
# made after a backfill (a third faster than filling indexed tables); INCLUDE: word counts from the index alone
_TERMS_INDEXES = [
    "ALTER TABLE {terms} ADD PRIMARY KEY (term, document_id) INCLUDE (chunks, tokens)",
    "CREATE INDEX ON {terms} (document_id)",
]
# The postings of the documents whose chunks `where` selects (see the module docstring). A tsvector keeps at most
# 256 positions of a word, up to position 16383: past that (chunks far longer than any chunker makes) counts saturate.
_INDEX_WORDS = """
INSERT INTO {terms} (term, document_id, chunks, tokens, postings)
WITH chunk AS MATERIALIZED (
    SELECT document_id, id, words, (row_number() OVER (PARTITION BY document_id ORDER BY id) - 1)::int4 AS number,
        (SELECT coalesce(sum(cardinality(positions)), 0) FROM unnest(words))::int4 AS length
    FROM (SELECT document_id, id, to_tsvector('english', chunks) AS words FROM {table} WHERE {where}) AS c
)
SELECT '', document_id, count(*), sum(length), string_agg(uuid_send(id), ''::bytea ORDER BY number)
FROM chunk GROUP BY document_id
UNION ALL
SELECT w.lexeme, document_id, count(*), sum(cardinality(w.positions)),
    string_agg(int4send(number) || int4send(cardinality(w.positions)) || int4send(length), ''::bytea ORDER BY number)
FROM chunk, unnest(words) AS w GROUP BY w.lexeme, document_id
"""
# A keyword search's document filter of up to this many documents is looked up in the index (a probe per word and
# document: 0.2 ms for 5 on the 100k-chunk bench); a longer one is applied to each posting row fetched instead
# (1,000 documents: 2.5 ms rather than 9 ms).
_PROBED_DOCUMENTS = 100


def _table(name: str) -> str:
    """The chunk table of knowledge base `name`, quoted (valid names hold no quotes)."""
    return f'{_SCHEMA}."{name}"'


def _terms(name: str) -> str:
    """The keyword postings of knowledge base `name`, quoted."""
    return f'{_TERMS}."{name}"'


def _encode_vector(vector: npt.NDArray[np.float32]) -> bytes:
    return struct.pack(">HH", len(vector), 0) + np.asarray(vector, dtype=">f4").tobytes()


def _decode_vector(data: bytes) -> npt.NDArray[np.float32]:
    (dimensions,) = struct.unpack_from(">H", data)
    return np.frombuffer(data, dtype=">f4", count=dimensions, offset=4).astype(np.float32)


async def _register_vector(connection: asyncpg.Connection) -> None:
    schema = await connection.fetchval(
        "SELECT n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = 'vector'"
    )
    await connection.set_type_codec(
        "vector", schema=schema, encoder=_encode_vector, decoder=_decode_vector, format="binary"
    )


def _unit_rows(vectors: npt.ArrayLike, dimensions: int) -> npt.NDArray[np.float32]:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dimensions:
        raise InvalidRequest(f"vectors must have {dimensions} dimensions, not shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.where(norms > 0, norms, 1)).astype(np.float32)


def _bedrock_metadata(document: DocumentRecord, chunk: ChunkRecord) -> str:
    """What Bedrock writes in an Aurora vector store's metadata column, and the chunk's document."""
    data: dict[str, Any] = {"x-amz-bedrock-kb-source-uri": document.source, "x-amz-bedrock-kb-chunk-id": chunk.id}
    if chunk.page is not None:
        data["x-amz-bedrock-kb-document-page-number"] = chunk.page
    return json.dumps(data | {"document_id": document.id})


def _document(row: Any) -> DocumentRecord:
    return DocumentRecord(
        id=row["id"], source=row["source"], name=row["name"], content_hash=row["content_hash"],
        media_type=row["media_type"], chunks=row["chunks"], pages=row["pages"], title=row["title"],
        tags=tuple(row["tags"]), metadata=json.loads(row["metadata"]), added_at=row["added_at"],
    )  # fmt: skip


def _chunk(row: Any) -> ChunkRecord:
    return ChunkRecord(
        id=str(row["id"]), document_id=row["document_id"], ordinal=row["ordinal"], text=row["chunks"],
        page=row["page"], start=row["start_offset"], end=row["end_offset"], headings=tuple(row["headings"]),
        parent=row["parent"],
    )  # fmt: skip


class PostgresStore:
    """One knowledge base: its rows in `quarry_kb_documents` and its own chunk table."""

    def __init__(self, pool: asyncpg.Pool, config: KnowledgeBaseConfig, *, exact_rows: int) -> None:
        self.config = config
        self._pool = pool
        self._exact_rows = exact_rows
        self._table = _table(config.name)
        self._terms = _terms(config.name)

    async def documents(self) -> list[DocumentRecord]:
        rows = await self._pool.fetch(
            f"SELECT {_DOCUMENT_COLUMNS} FROM quarry_kb_documents WHERE kb = $1 ORDER BY added_at, seq",
            self.config.name,
        )
        return [_document(row) for row in rows]

    async def put_document(
        self, document: DocumentRecord, chunks: Sequence[ChunkRecord], vectors: Vectors, *, replaces: str | None
    ) -> None:
        unit = _unit_rows(vectors, self.config.dimensions)
        if len(unit) != len(chunks):
            raise InvalidRequest(f"{len(chunks)} chunks but {len(unit)} vectors")
        d = document
        custom = json.dumps({**d.metadata, "tags": list(d.tags)})
        records = [
            (c.id, vector, c.text, _bedrock_metadata(d, c), custom, d.id, c.ordinal, c.page, c.start, c.end,
             list(c.headings), c.parent)
            for c, vector in zip(chunks, unit, strict=True)
        ]  # fmt: skip
        async with self._pool.acquire() as connection, connection.transaction():
            if replaces is not None:
                await self._remove(connection, [replaces])
            inserted = await connection.execute(
                f"INSERT INTO quarry_kb_documents (kb, {_DOCUMENT_COLUMNS}, rows_stored)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
                self.config.name, d.id, d.source, d.name, d.content_hash, d.media_type, d.chunks, d.pages, d.title,
                list(d.tags), json.dumps(d.metadata), d.added_at, len(chunks),
            )  # fmt: skip
            if inserted.endswith(" 0"):
                raise Conflict(f"document {d.id} is already in knowledge base {self.config.name}")
            if records:
                await connection.copy_records_to_table(
                    self.config.name, schema_name=_SCHEMA, records=records, columns=_CHUNK_TABLE_COLUMNS
                )
                await connection.execute(
                    _INDEX_WORDS.format(terms=self._terms, table=self._table, where="document_id = $1"), d.id
                )

    async def remove_documents(self, ids: Collection[str]) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            return await self._remove(connection, list(ids))

    async def _remove(self, connection: asyncpg.Connection, ids: list[str]) -> int:
        await connection.execute(f"DELETE FROM {self._table} WHERE document_id = ANY($1::text[])", ids)
        await connection.execute(f"DELETE FROM {self._terms} WHERE document_id = ANY($1::text[])", ids)
        status: str = await connection.execute(
            "DELETE FROM quarry_kb_documents WHERE kb = $1 AND id = ANY($2::text[])", self.config.name, ids
        )
        return int(status.rsplit(" ", 1)[-1])

    async def keyword_search(
        self, text: str, limit: int, documents: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        terms = search_terms(text)
        if not terms or limit <= 0 or (documents is not None and not documents):
            return []
        probed = documents is not None and len(documents) <= _PROBED_DOCUMENTS
        # one snapshot for the word counts, the postings and the chunk ids
        async with (
            self._pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            # how many chunks hold each (stemmed) word; the empty term: how many chunks there are, and their words
            stats = await connection.fetch(
                f"SELECT term, sum(chunks)::int8 AS chunks, sum(tokens)::int8 AS tokens FROM {self._terms}"
                " WHERE term = ANY(ARRAY[''] || tsvector_to_array(to_tsvector('english', $1))) GROUP BY term",
                " ".join(terms),
            )
            counts = {row["term"]: row["chunks"] for row in stats}
            total = counts.pop("", 0)
            words = sum(row["tokens"] for row in stats if row["term"] == "")
            where = " AND document_id = ANY($2::text[])" if probed else ""
            rows = await connection.fetch(
                f"SELECT term, document_id, postings FROM {self._terms} WHERE term = ANY($1::text[]){where}",
                informative(counts, total),
                *([list(documents)] if documents is not None and probed else []),
            )
            if documents is not None and not probed:
                allowed = set(documents)
                rows = [row for row in rows if row["document_id"] in allowed]
            if not rows:
                return []
            idf = {term: bm25_idf(total, n) for term, n in counts.items()}
            best = _best(rows, idf, words / total, limit)
            # only the ids asked for: a long document's list of ids is long
            found = await connection.fetch(
                "SELECT k.document_id, k.number, encode(substr(t.postings, 16 * k.number + 1, 16), 'hex')::uuid AS id"
                f" FROM unnest($1::text[], $2::int4[]) AS k (document_id, number) JOIN {self._terms} AS t"
                " ON t.term = '' AND t.document_id = k.document_id",
                [document for document, _, _ in best],
                [number for _, number, _ in best],
            )
        ids = {(row["document_id"], row["number"]): str(row["id"]) for row in found}
        return [ScoredChunk(ids[document, number], score) for document, number, score in best]

    async def vector_search(
        self, vector: Vectors, limit: int, documents: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        query = _unit_rows(np.asarray(vector).reshape(1, -1), self.config.dimensions)[0]
        if limit <= 0 or (documents is not None and not documents):
            return []
        allowed = None if documents is None else list(documents)
        async with self._pool.acquire() as connection, connection.transaction():
            selected, total = await connection.fetchrow(
                "SELECT coalesce(sum(rows_stored) FILTER (WHERE $2::text[] IS NULL OR id = ANY($2::text[])), 0),"
                " coalesce(sum(rows_stored), 0) FROM quarry_kb_documents WHERE kb = $1",
                self.config.name, allowed,
            )  # fmt: skip
            wanted = min(limit, selected)
            if wanted == 0:
                return []
            # HNSW returns at most ef_search rows, before any filter: ask for enough that `limit` survive it
            ef_search = math.ceil(2 * limit * total / selected) if selected else _EF_SEARCH_MAX + 1
            if (
                self.config.dimensions <= _HNSW_MAX_DIMENSIONS
                and ef_search <= _EF_SEARCH_MAX
                and (allowed is None or selected > self._exact_rows)
            ):
                await connection.execute(f"SET LOCAL hnsw.ef_search = {max(ef_search, 40)}")
                rows = await self._nearest(connection, query, limit, allowed, exact=False)
                if len(rows) >= wanted:
                    return rows
            return await self._nearest(connection, query, limit, allowed, exact=True)

    async def _nearest(
        self, connection: asyncpg.Connection, query: npt.NDArray[np.float32], limit: int,
        allowed: list[str] | None, *, exact: bool,
    ) -> list[ScoredChunk]:  # fmt: skip
        where = "" if allowed is None else "WHERE document_id = ANY($3::text[])"
        # OFFSET 0 fences the subquery off: the planner cannot answer its ORDER BY from the HNSW index
        source = f"(SELECT id, embedding FROM {self._table} {where} OFFSET 0)" if exact else self._table
        sql = (
            f"SELECT id, 1 - (embedding <=> $1) AS score FROM {source} AS t"
            f" {'' if exact else where} ORDER BY embedding <=> $1 LIMIT $2"
        )
        rows = await connection.fetch(sql, query, limit, *([] if allowed is None else [allowed]))
        return [ScoredChunk(str(row["id"]), float(row["score"])) for row in rows]

    async def chunks(self, ids: Sequence[str]) -> list[tuple[ChunkRecord, DocumentRecord]]:
        asked = [u for u in map(_uuid, ids) if u is not None]
        async with self._pool.acquire() as connection:
            chunk_rows = await connection.fetch(
                f"SELECT {_CHUNK_COLUMNS} FROM {self._table} WHERE id = ANY($1::uuid[])", asked
            )
            document_ids = list({row["document_id"] for row in chunk_rows})
            document_rows = await connection.fetch(
                f"SELECT {_DOCUMENT_COLUMNS} FROM quarry_kb_documents WHERE kb = $1 AND id = ANY($2::text[])",
                self.config.name, document_ids,
            )  # fmt: skip
        documents = {row["id"]: _document(row) for row in document_rows}
        found = {
            str(row["id"]): (_chunk(row), documents[row["document_id"]])
            for row in chunk_rows
            if row["document_id"] in documents  # rows Bedrock wrote have no Quarry document
        }
        return [found[u] for u in map(_uuid, ids) if u in found]

    async def counts(self) -> tuple[int, int]:
        documents, chunks = await self._pool.fetchrow(
            "SELECT count(*), coalesce(sum(rows_stored), 0) FROM quarry_kb_documents WHERE kb = $1", self.config.name
        )
        return int(documents), int(chunks)

    async def close(self) -> None:
        """Nothing to release: the backend owns the pool."""


def _best(
    rows: Sequence[Any], idf: dict[str, float], average_length: float, limit: int
) -> list[tuple[str, int, float]]:
    """The best `limit` chunks of `rows` (term, document_id, postings) by BM25, best first, as (document id, chunk
    number, score): each posting's share, then each chunk's sum, in numpy."""
    slots: dict[str, int] = {}
    documents = np.array([slots.setdefault(row["document_id"], len(slots)) for row in rows])
    counts = [len(row["postings"]) // 12 for row in rows]
    number, tf, length = np.frombuffer(b"".join([row["postings"] for row in rows]), ">i4").reshape(-1, 3).T
    weight = np.repeat([idf[row["term"]] for row in rows], counts)
    shares = weight * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / average_length))
    # each document's chunks get a run of keys (up to the highest number seen: a row's postings are in number
    # order), so chunks are summed by np.bincount over at most the documents' chunks, with no sort
    sizes = np.zeros(len(slots), np.int64)
    np.maximum.at(sizes, documents, number[np.cumsum(counts) - 1] + 1)
    starts = np.cumsum(sizes) - sizes
    scores = np.bincount(np.repeat(starts[documents], counts) + number, weights=shares)
    top = np.argpartition(-scores, limit - 1)[:limit] if len(scores) > limit else np.arange(len(scores))
    top = top[np.lexsort((top, -scores[top]))]
    top = top[scores[top] > 0]  # keys no posting fell on
    names = list(slots)
    slot = np.searchsorted(starts, top, side="right") - 1
    return [(names[s], int(key - starts[s]), float(scores[key])) for s, key in zip(slot, top, strict=True)]


def _uuid(text: str) -> str | None:
    """`text` as PostgreSQL writes a uuid; None when it is not one (so no chunk has it)."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


async def _create_terms(connection: asyncpg.Connection, name: str, *, fill: bool = False) -> None:
    """The postings table of knowledge base `name`, holding those of its documents if `fill`."""
    terms = _terms(name)
    await connection.execute(_TERMS_TABLE.format(terms=terms))
    if fill:
        await connection.execute(_INDEX_WORDS.format(terms=terms, table=_table(name), where="document_id IS NOT NULL"))
    for statement in _TERMS_INDEXES:
        await connection.execute(statement.format(terms=terms))


async def _index_old_documents(pool: asyncpg.Pool, name: str) -> None:
    """Give a knowledge base made before keyword postings existed its postings (~30 s for 100k chunks)."""
    if await pool.fetchval("SELECT to_regclass($1)", _terms(name)) is not None:
        return
    async with pool.acquire() as connection:
        async with connection.transaction():
            # no chunks written meanwhile, and one instance builds the postings: the others wait, then find them
            # (taking a table lock also brings this session's view of the catalog up to date)
            await connection.execute(f"LOCK TABLE {_table(name)} IN SHARE ROW EXCLUSIVE MODE")
            if await connection.fetchval("SELECT to_regclass($1)", _terms(name)) is not None:
                return
            await _create_terms(connection, name, fill=True)
        # marks the pages all-visible, so word counts come from the index alone before autovacuum comes by
        await connection.execute(f"VACUUM (ANALYZE) {_terms(name)}")


class PostgresBackend:
    """Knowledge bases in the PostgreSQL database at `url` (pgvector must be installed on the server).

    A vector search whose document filter allows at most `exact_rows` chunks scores them all rather than walk the
    HNSW graph (which would have to visit many rows to find enough allowed ones)."""

    def __init__(self, url: str, *, max_size: int = 10, exact_rows: int = 20_000) -> None:
        self._url = url
        self._exact_rows = exact_rows
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._ready = asyncio.Lock()
        self._open: dict[str, PostgresStore] = {}

    async def _connected(self) -> asyncpg.Pool:
        async with self._ready:
            if self._pool is None:
                try:
                    import asyncpg
                except ImportError:
                    raise RuntimeError(
                        "PostgreSQL needs the `postgres` extra: pip install 'quarry[postgres]'"
                    ) from None
                connection = await asyncpg.connect(self._url)
                try:
                    async with connection.transaction():
                        await connection.execute("SELECT pg_advisory_xact_lock($1)", _SETUP_LOCK)
                        await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
                finally:
                    await connection.close()
                pool = await asyncpg.create_pool(self._url, min_size=1, max_size=self._max_size, init=_register_vector)
                try:
                    # kb.database_url may name a database of its own, which the server's start-up never migrates
                    await PostgresDatabase(pool).migrate(MIGRATIONS)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
            return self._pool

    async def names(self) -> list[str]:
        pool = await self._connected()
        return [row["name"] for row in await pool.fetch("SELECT name FROM quarry_knowledge_bases ORDER BY name")]

    async def config(self, name: str) -> KnowledgeBaseConfig | None:
        pool = await self._connected()
        data = await pool.fetchval("SELECT config FROM quarry_knowledge_bases WHERE name = $1", name)
        return KnowledgeBaseConfig.from_json(json.loads(data)) if data is not None else None

    async def registered(self, name: str) -> Registered | None:
        pool = await self._connected()
        row = await pool.fetchrow("SELECT config, owner, shared_with FROM quarry_knowledge_bases WHERE name = $1", name)
        if row is None:
            return None
        ownership = Ownership.from_json({"owner": row["owner"], "shared_with": json.loads(row["shared_with"])})
        return Registered(KnowledgeBaseConfig.from_json(json.loads(row["config"])), ownership)

    async def set_ownership(self, name: str, ownership: Ownership) -> bool:
        pool = await self._connected()
        shared = json.dumps(ownership.to_json()["shared_with"])
        changed = await pool.execute(
            "UPDATE quarry_knowledge_bases SET owner = $2, shared_with = $3 WHERE name = $1",
            name, ownership.owner, shared,
        )  # fmt: skip
        return not changed.endswith(" 0")

    async def create(self, config: KnowledgeBaseConfig, ownership: Ownership | None = None) -> None:
        import asyncpg

        if not valid_name(config.name):
            raise InvalidRequest(f"invalid knowledge base name {config.name!r}", param="name")
        pool = await self._connected()
        table = _table(config.name)
        ownership = ownership or Ownership()
        async with pool.acquire() as connection, connection.transaction():
            # of two concurrent creates, the second waits on the first's row here, then inserts nothing
            added = await connection.execute(
                "INSERT INTO quarry_knowledge_bases (name, config, created_at, owner, shared_with)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                config.name, json.dumps(config.to_json()), config.created_at, ownership.owner,
                json.dumps(ownership.to_json()["shared_with"]),
            )  # fmt: skip
            if added.endswith(" 0"):
                raise Conflict(f"knowledge base {config.name!r} exists already", param="name")
            if config.kind != "local":
                return
            try:
                await connection.execute(
                    f"CREATE TABLE {table} (id uuid PRIMARY KEY, embedding vector({config.dimensions}),"
                    " chunks text NOT NULL, metadata jsonb, custom_metadata jsonb, document_id text,"
                    " ordinal integer, page integer, start_offset integer, end_offset integer, headings text[],"
                    " parent text)"
                )
                await _create_terms(connection, config.name)
            except asyncpg.DuplicateTableError:
                raise Conflict(f"table {table} exists already (not a registered knowledge base)") from None
            if config.dimensions <= _HNSW_MAX_DIMENSIONS:
                await connection.execute(f"CREATE INDEX ON {table} USING hnsw (embedding vector_cosine_ops)")
            await connection.execute(f"CREATE INDEX ON {table} USING gin (to_tsvector('simple', chunks))")
            await connection.execute(f"CREATE INDEX ON {table} (document_id)")

    async def open(self, name: str) -> PostgresStore:
        if name in self._open:
            return self._open[name]
        config = await self.config(name)
        if config is None:
            raise NotFound(f"no knowledge base {name!r}", param="name")
        if config.kind != "local":
            raise NotFound(f"knowledge base {name!r} is managed by Bedrock: it has no local store", param="name")
        pool = await self._connected()
        await _index_old_documents(pool, name)
        return self._open.setdefault(name, PostgresStore(pool, config, exact_rows=self._exact_rows))

    async def drop(self, name: str) -> bool:
        pool = await self._connected()
        self._open.pop(name, None)
        async with pool.acquire() as connection, connection.transaction():
            removed = await connection.execute("DELETE FROM quarry_knowledge_bases WHERE name = $1", name)
            if removed.endswith(" 0"):
                return False
            if valid_name(name):
                await connection.execute(f"DROP TABLE IF EXISTS {_table(name)}, {_terms(name)}")
        return True

    async def close(self) -> None:
        self._open = {}
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
