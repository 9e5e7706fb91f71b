"""SQLite through aiosqlite: one connection in WAL mode, so the server and the CLI can use the file at once.

Every request shares the one connection, and a transaction on a connection is the connection's: a statement sent
while another call's transaction is open would join it (and be rolled back with it), and a second BEGIN fails
("cannot start a transaction within a transaction", which 32 concurrent Responses API calls met in each flush of the
usage rows). So writes take turns on a lock; reads do not wait for it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiosqlite

from quarry.store._database import Row

__all__ = ["SQLiteDatabase"]


class SQLiteDatabase:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        self._writing = asyncio.Lock()

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
        # IMMEDIATE takes the write lock at BEGIN, waiting up to busy_timeout for it: other processes (`serve
        # --workers N`, the CLI) write the same file; https://www.sqlite.org/lang_transaction.html
        async with self._writing:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany(sql, rows)
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
            async with self._writing:
                await self._db.execute("BEGIN IMMEDIATE")  # one migrator at a time, across processes
                try:
                    done = await self.fetchrow("SELECT 1 AS done FROM quarry_migrations WHERE version = ?", version)
                    if done is None:
                        for statement in step["sqlite"]:
                            await self._db.execute(statement)
                        await self._db.execute("INSERT INTO quarry_migrations VALUES (?, ?)", (version, time.time()))
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
                await self._db.execute("COMMIT")
        return len(steps)

    async def close(self) -> None:
        await self._db.close()
