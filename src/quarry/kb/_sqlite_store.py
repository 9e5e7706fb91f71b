"""Knowledge bases in SQLite: one file per knowledge base, `<root>/<name>.sqlite`, holding its own config.

Tables: `meta` (the config JSON, and the ownership JSON, which files made before owners lack: they are the admin's),
`documents`, `chunks` (vectors as float32 blobs) and `chunks_fts`, an FTS5 index over the chunks' text (porter
stemming over unicode61) kept by triggers. Searches run on an in-memory index that follows the file
(`_sqlite_index`): int8 vectors, and BM25 over FTS5's postings — Python's sqlite3 cannot load extensions such as
sqlite-vec.

Each store has three connections — reader, writer, and the index's — each used by one thread of its own, so the
event loop hands SQLite whole units of work and never waits on a lock; in WAL mode the server can search while the
CLI ingests.
"""

# SQL text here is built only from fixed column lists and validated knowledge-base names; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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
from quarry.kb._sqlite_index import TOKENIZE, SearchIndex
from quarry.kb._store import Vectors, search_terms

__all__ = ["SQLiteBackend", "SQLiteStore"]

T = TypeVar("T")

_SCHEMA = [
    "CREATE TABLE documents (id TEXT PRIMARY KEY, source TEXT NOT NULL, name TEXT NOT NULL,"
    " content_hash TEXT NOT NULL, media_type TEXT NOT NULL, chunks INTEGER NOT NULL, pages INTEGER, title TEXT,"
    " tags TEXT NOT NULL, metadata TEXT NOT NULL, added_at REAL NOT NULL)",
    # AUTOINCREMENT: row numbers are never reused, so the index can load only rows past the last it holds
    "CREATE TABLE chunks (row INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, document_id TEXT NOT NULL,"
    ' ordinal INTEGER NOT NULL, text TEXT NOT NULL, page INTEGER, start INTEGER NOT NULL, "end" INTEGER NOT NULL,'
    " headings TEXT NOT NULL, parent TEXT, vector BLOB NOT NULL)",
    "CREATE INDEX chunks_document ON chunks (document_id)",
    f"CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='row', tokenize='{TOKENIZE}')",
    "CREATE TRIGGER chunks_added AFTER INSERT ON chunks BEGIN"
    " INSERT INTO chunks_fts (rowid, text) VALUES (new.row, new.text); END",
    "CREATE TRIGGER chunks_removed AFTER DELETE ON chunks BEGIN"
    " INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.row, old.text); END",
]
_DOCUMENT_COLUMNS = "id, source, name, content_hash, media_type, chunks, pages, title, tags, metadata, added_at"
_CHUNK_COLUMNS = 'c.id, c.document_id, c.ordinal, c.text, c.page, c.start, c."end", c.headings, c.parent'


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # explicit transactions only
    for pragma in ("journal_mode = WAL", "busy_timeout = 10000", "synchronous = NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    return db


def _transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
    """`work` in one write transaction: all of it is committed, or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work()
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _read_meta(path: Path) -> dict[str, Any]:
    """The `meta` table's values, decoded; empty when the file is gone (dropped since it was listed)."""
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return {}
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        rows = db.execute("SELECT key, value FROM meta WHERE key IN ('config', 'ownership')").fetchall()
    finally:
        db.close()
    return {key: json.loads(value) for key, value in rows}


def _read_config(path: Path) -> KnowledgeBaseConfig | None:
    meta = _read_meta(path)
    return KnowledgeBaseConfig.from_json(meta["config"]) if "config" in meta else None


def _read_registered(path: Path) -> Registered | None:
    meta = _read_meta(path)
    if "config" not in meta:
        return None
    ownership = Ownership.from_json(meta["ownership"]) if "ownership" in meta else Ownership()
    return Registered(KnowledgeBaseConfig.from_json(meta["config"]), ownership)


def _write_ownership(path: Path, ownership: Ownership) -> bool:
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.OperationalError:
        return False
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('ownership', ?)", (json.dumps(ownership.to_json()),))
    finally:
        db.close()
    return True


class _Connection:
    """One sqlite3 connection and the one thread that uses it."""

    def __init__(self, path: Path) -> None:
        self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quarry-kb-sqlite")
        self._db = self._threads.submit(_connect, path).result()

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work, self._db)

    def close(self) -> None:
        self._threads.submit(self._db.close).result()
        self._threads.shutdown()


def _unit_rows(vectors: npt.ArrayLike, dimensions: int) -> npt.NDArray[np.float32]:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dimensions:
        raise InvalidRequest(f"vectors must have {dimensions} dimensions, not shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.where(norms > 0, norms, 1), dtype="<f4")


def _document(row: Sequence[Any]) -> DocumentRecord:
    return DocumentRecord(
        id=row[0], source=row[1], name=row[2], content_hash=row[3], media_type=row[4], chunks=row[5], pages=row[6],
        title=row[7], tags=tuple(json.loads(row[8])), metadata=json.loads(row[9]), added_at=row[10],
    )  # fmt: skip


def _chunk(row: Sequence[Any]) -> ChunkRecord:
    return ChunkRecord(
        id=row[0], document_id=row[1], ordinal=row[2], text=row[3], page=row[4], start=row[5], end=row[6],
        headings=tuple(json.loads(row[7])), parent=row[8],
    )  # fmt: skip


class SQLiteStore:
    """One knowledge base in its SQLite file."""

    def __init__(self, path: Path, config: KnowledgeBaseConfig) -> None:
        self.config = config
        self._reader = _Connection(path)
        self._writer = _Connection(path)
        self._searches = _Connection(path)  # the index's: searches run beside reads of documents and chunks
        self._index = SearchIndex(config.dimensions)

    async def ownership(self) -> Ownership:
        """As the file holds it now (another process may have shared or given it away since it was opened)."""
        sql = "SELECT value FROM meta WHERE key = 'ownership'"
        row = await self._reader.run(lambda db: db.execute(sql).fetchone())
        return Ownership.from_json(json.loads(row[0])) if row else Ownership()

    async def documents(self) -> list[DocumentRecord]:
        sql = f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY added_at, rowid"
        return [_document(row) for row in await self._reader.run(lambda db: db.execute(sql).fetchall())]

    async def put_document(
        self, document: DocumentRecord, chunks: Sequence[ChunkRecord], vectors: Vectors, *, replaces: str | None
    ) -> None:
        unit = _unit_rows(vectors, self.config.dimensions)
        if len(unit) != len(chunks):
            raise InvalidRequest(f"{len(chunks)} chunks but {len(unit)} vectors")
        d = document
        document_row = (d.id, d.source, d.name, d.content_hash, d.media_type, d.chunks, d.pages, d.title,
                        json.dumps(list(d.tags)), json.dumps(d.metadata), d.added_at)  # fmt: skip
        chunk_rows = [
            (c.id, d.id, c.ordinal, c.text, c.page, c.start, c.end, json.dumps(list(c.headings)), c.parent, v.tobytes())
            for c, v in zip(chunks, unit, strict=True)
        ]

        def put(db: sqlite3.Connection) -> None:
            if replaces is not None:
                _remove(db, [replaces])
            if db.execute("SELECT 1 FROM documents WHERE id = ?", (d.id,)).fetchone():
                raise Conflict(f"document {d.id} is already in knowledge base {self.config.name}")
            db.execute(f"INSERT INTO documents ({_DOCUMENT_COLUMNS}) VALUES ({', '.join('?' * 11)})", document_row)
            db.executemany(
                'INSERT INTO chunks (id, document_id, ordinal, text, page, start, "end", headings, parent, vector)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                chunk_rows,
            )

        await self._writer.run(lambda db: _transaction(db, lambda: put(db)))

    async def remove_documents(self, ids: Collection[str]) -> int:
        listed = list(ids)
        return await self._writer.run(lambda db: _transaction(db, lambda: _remove(db, listed)))

    async def keyword_search(
        self, text: str, limit: int, documents: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        words = search_terms(text)
        if not words or limit <= 0 or (documents is not None and not documents):
            return []
        return await self._searches.run(lambda db: self._index.keyword(db, words, limit, documents))

    async def vector_search(
        self, vector: Vectors, limit: int, documents: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        query = _unit_rows(np.asarray(vector).reshape(1, -1), self.config.dimensions)[0]
        if limit <= 0 or (documents is not None and not documents):
            return []
        return await self._searches.run(lambda db: self._index.nearest(db, query, limit, documents))

    async def chunks(self, ids: Sequence[str]) -> list[tuple[ChunkRecord, DocumentRecord]]:
        sql = (
            f"SELECT {_CHUNK_COLUMNS}, {', '.join('d.' + c for c in _DOCUMENT_COLUMNS.split(', '))}"
            " FROM chunks AS c JOIN documents AS d ON d.id = c.document_id"
            " WHERE c.id IN (SELECT value FROM json_each(?))"
        )
        asked = json.dumps(list(ids))
        rows = await self._reader.run(lambda db: db.execute(sql, (asked,)).fetchall())
        found = {row[0]: (_chunk(row[:9]), _document(row[9:])) for row in rows}
        return [found[i] for i in ids if i in found]

    async def counts(self) -> tuple[int, int]:
        sql = "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks)"
        documents, chunks = await self._reader.run(lambda db: db.execute(sql).fetchone())
        return documents, chunks

    async def close(self) -> None:
        for connection in (self._reader, self._writer, self._searches):
            await asyncio.to_thread(connection.close)


def _remove(db: sqlite3.Connection, ids: list[str]) -> int:
    listed = json.dumps(ids)
    db.execute("DELETE FROM chunks WHERE document_id IN (SELECT value FROM json_each(?))", (listed,))
    return db.execute("DELETE FROM documents WHERE id IN (SELECT value FROM json_each(?))", (listed,)).rowcount


class SQLiteBackend:
    """Knowledge bases as SQLite files in `root` (`<data_dir>/kb`); a managed one is a file with only its config."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._open: dict[str, SQLiteStore] = {}
        self._opening = asyncio.Lock()

    def _path(self, name: str) -> Path:
        if not valid_name(name):
            raise InvalidRequest(f"invalid knowledge base name {name!r}", param="name")
        return self._root / f"{name}.sqlite"

    async def names(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(p.stem for p in self._root.glob("*.sqlite") if valid_name(p.stem))

    async def config(self, name: str) -> KnowledgeBaseConfig | None:
        if name in self._open:
            return self._open[name].config
        if not valid_name(name) or not self._path(name).exists():
            return None
        return await asyncio.to_thread(_read_config, self._path(name))

    async def registered(self, name: str) -> Registered | None:
        if not valid_name(name) or not self._path(name).exists():
            return None
        store = self._open.get(name)
        if store is not None:  # asked on every request: its open reader answers in a fraction of a new connection
            return Registered(store.config, await store.ownership())
        return await asyncio.to_thread(_read_registered, self._path(name))

    async def create(self, config: KnowledgeBaseConfig, ownership: Ownership | None = None) -> None:
        path = self._path(config.name)
        await asyncio.to_thread(_create, path, config, ownership or Ownership())

    async def set_ownership(self, name: str, ownership: Ownership) -> bool:
        if not valid_name(name) or not self._path(name).exists():
            return False
        return await asyncio.to_thread(_write_ownership, self._path(name), ownership)

    async def open(self, name: str) -> SQLiteStore:
        async with self._opening:
            if name in self._open:
                return self._open[name]
            config = await self.config(name)
            if config is None:
                raise NotFound(f"no knowledge base {name!r}", param="name")
            if config.kind != "local":
                raise NotFound(f"knowledge base {name!r} is managed by Bedrock: it has no local store", param="name")
            store = await asyncio.to_thread(SQLiteStore, self._path(name), config)
            self._open[name] = store
            return store

    async def drop(self, name: str) -> bool:
        path = self._path(name)
        store = self._open.pop(name, None)
        if store is not None:
            await store.close()
        if not path.exists():
            return False
        await asyncio.to_thread(_remove_files, path)
        return True

    async def close(self) -> None:
        stores, self._open = list(self._open.values()), {}
        for store in stores:
            await store.close()


def _remove_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _create(path: Path, config: KnowledgeBaseConfig, ownership: Ownership) -> None:
    """Build the file under a temporary name, then link it into place: the name appears complete or not at all,
    and of two processes creating the same name, one gets Conflict."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}.draft")
    draft.unlink(missing_ok=True)
    try:
        db = sqlite3.connect(draft, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = DELETE")  # everything in the one file when it is linked into place
            db.execute("BEGIN")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "INSERT INTO meta VALUES ('config', ?), ('ownership', ?), ('schema', '1')",
                (json.dumps(config.to_json()), json.dumps(ownership.to_json())),
            )
            if config.kind == "local":
                for statement in _SCHEMA:
                    db.execute(statement)
            db.execute("COMMIT")
        finally:
            db.close()
        try:
            os.link(draft, path)
        except FileExistsError:
            raise Conflict(f"knowledge base {config.name!r} exists already", param="name") from None
    finally:
        draft.unlink(missing_ok=True)
