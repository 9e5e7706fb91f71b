"""SQLite through aiosqlite: one connection in WAL mode, so the server and the CLI can use the file at once.

The connection is shared by every coroutine of the process, and a transaction on it spans awaits: while one is
open, another BEGIN fails ("cannot start a transaction within a transaction") and another coroutine's write would
join it (and be rolled back with it). So writes and transactions take turns under one lock; reads need not.

`write` is a group commit: the writes that arrive while a transaction is under way share the next one, each
statement run once over all their rows (every call to the connection is a hop to its thread, and the hops, not
SQLite, were most of a stored response's cost). When a shared transaction fails, each of its writes is retried in a
transaction of its own, so that only the culprit fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from quarry.store._database import Row, Step

__all__ = ["SQLiteDatabase"]


class SQLiteDatabase:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        self._writing = asyncio.Lock()
        self._queued: list[tuple[list[Step], asyncio.Future[None]]] = []  # writes waiting for the next transaction
        self._writer: asyncio.Task[None] | None = None  # commits the queued writes, batch after batch, while any wait

    @classmethod
    async def open(cls, path: Path) -> SQLiteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)  # explicit transactions only
        connection.row_factory = aiosqlite.Row
        for pragma in ("journal_mode = WAL", "busy_timeout = 5000", "synchronous = NORMAL", "foreign_keys = ON"):
            await connection.execute(f"PRAGMA {pragma}")
        return cls(connection)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._writing, self._db.execute(sql, args) as cursor:
            return max(cursor.rowcount, 0)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self._transaction([(sql, rows)])

    async def write(self, steps: list[Step]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._queued.append((steps, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="quarry-sqlite-writes")
        await asyncio.shield(done)  # a caller gone (its client cancelled) leaves its write, and the others', to land

    async def _write_queued(self) -> None:
        batch: list[tuple[list[Step], asyncio.Future[None]]] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                await self._commit(batch)
        except BaseException as error:  # cancelled (the loop ends): no waiter is left hanging
            for _, done in batch + self._queued:
                _settle(done, error)
            raise

    async def _commit(self, batch: list[tuple[list[Step], asyncio.Future[None]]]) -> None:
        try:
            await self._transaction([step for steps, _ in batch for step in steps])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            for steps, done in batch:  # one of them broke the batch: each alone, so that only it fails
                try:
                    await self._transaction(steps)
                except Exception as alone:
                    _settle(done, alone)
                else:
                    _settle(done, None)
            return
        for _, done in batch:
            _settle(done, None)

    async def _transaction(self, steps: list[Step]) -> None:
        merged: dict[str, list[tuple[Any, ...]]] = {}  # each statement once, over every write's rows, in first order
        for sql, rows in steps:
            merged.setdefault(sql, []).extend(rows)
        async with self._immediate():
            for sql, rows in merged.items():
                if rows:
                    await self._db.executemany(sql, rows)

    @asynccontextmanager
    async def _immediate(self) -> AsyncIterator[None]:
        """One transaction, in this process's turn to write. IMMEDIATE takes SQLite's write lock at BEGIN, waiting up
        to busy_timeout for it: other processes (`serve --workers N`, the CLI) write the same file;
        https://www.sqlite.org/lang_transaction.html"""
        async with self._writing:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._db.execute(sql, args) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._db.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return dict(row) if row is not None else None

    async def migrate(self, steps: list[dict[str, list[str]]]) -> int:
        await self._db.execute("CREATE TABLE IF NOT EXISTS quarry_migrations (version INTEGER PRIMARY KEY, at REAL)")
        for version, step in enumerate(steps, start=1):
            async with self._immediate():  # one migrator at a time, across processes
                done = await self.fetchrow("SELECT 1 AS done FROM quarry_migrations WHERE version = ?", version)
                if done is None:
                    for statement in step["sqlite"]:
                        await self._db.execute(statement)
                    await self._db.execute("INSERT INTO quarry_migrations VALUES (?, ?)", (version, time.time()))
        return len(steps)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)  # what is queued lands first
        await self._db.close()


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
