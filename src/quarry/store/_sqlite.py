"""SQLite: one connection in WAL mode (so the server and the CLI can use the file at once), used by one thread.

Every call is one job on that thread, a whole transaction included: a hop between the event loop and the thread
costs more than the statements (aiosqlite, used before, took one per statement, fetch and BEGIN/COMMIT: seven for a
stored response), and a transaction that never spans an await needs no lock against the other coroutines' calls.

`write` is a group commit: the writes that arrive while a transaction is under way share the next one, each
statement run once over all their rows. When a shared transaction fails, each of its writes is retried in a
transaction of its own, so that only the culprit fails.

The connection never checkpoints the WAL itself: SQLite's automatic checkpoint runs inside the COMMIT that crosses
1,000 WAL pages, and its two fsyncs (3-30 ms on the benchmark's disk) were the p99 of a stored response, whose
request waits for that COMMIT. `_Checkpoints` does it instead. Durability is unchanged (synchronous=NORMAL): a write
has returned once its commit is in the WAL, so a process crash loses nothing and a power cut may lose the last
commits, as before; another connection to the file (the CLI, another worker) reads it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from quarry.store._database import Row, Step

__all__ = ["SQLiteDatabase"]

log = logging.getLogger("quarry.store")
T = TypeVar("T")
_PRAGMAS = ("journal_mode = WAL", "busy_timeout = 5000", "synchronous = NORMAL", "foreign_keys = ON")
_CHECKPOINT_S = 1.0  # a checkpoint at most this often while writes come: each costs two fsyncs, off the writers' path
_RESTART_FRAMES = 10_000  # WAL frames (~40 MB) past which the next checkpoint pauses this process's writes (below)


class _Connection:
    """One sqlite3 connection and the one thread that uses it."""

    def __init__(self, path: Path, name: str, pragmas: tuple[str, ...]) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._db = self._thread.submit(_connect, path, pragmas).result()

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, self._db)

    def close(self) -> None:
        self._thread.submit(self._db.close).result()
        self._thread.shutdown()


class _Checkpoints:
    """WAL checkpoints a moment after writes, on a connection and thread of their own, PASSIVE: writers go on
    meanwhile, so a checkpoint's fsyncs delay no request.

    The WAL starts again from its beginning only at a write that finds every frame checkpointed; while writes keep
    coming, some always land during the checkpoint, and it would grow without end. So once it holds
    `restart_frames`, the next checkpoint is run again on the writers' own thread, which holds this process's writes
    for the few frames left (one such pause per ~40 MB written, against one per 4 MB inside a commit before)."""

    def __init__(self, connection: _Connection, writer: _Connection, every_s: float, restart_frames: int) -> None:
        self._connection = connection
        self._writer = writer
        self._every_s = every_s
        self._restart_frames = restart_frames
        self._written = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="quarry-sqlite-checkpoints")

    def written(self) -> None:
        self._written.set()

    async def _run(self) -> None:
        while True:
            await self._written.wait()
            await asyncio.sleep(self._every_s)  # the writes of the next moment share this checkpoint
            self._written.clear()
            try:
                frames = await self._connection.run(_checkpoint)
                if frames >= self._restart_frames:
                    await self._writer.run(_checkpoint)
            except Exception:  # e.g. the disk full: the WAL keeps the writes, the next round tries again
                log.exception("checkpointing the SQLite WAL failed")

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await asyncio.to_thread(self._connection.close)


class SQLiteDatabase:
    def __init__(self, connection: _Connection, checkpoints: _Checkpoints) -> None:
        self._db = connection
        self._checkpoints = checkpoints
        self._queued: list[tuple[list[Step], asyncio.Future[None]]] = []  # writes waiting for the next transaction
        self._writer: asyncio.Task[None] | None = None  # commits the queued writes, batch after batch, while any wait

    @classmethod
    async def open(
        cls, path: Path, *, checkpoint_s: float = _CHECKPOINT_S, restart_frames: int = _RESTART_FRAMES
    ) -> SQLiteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        pragmas = (*_PRAGMAS, "wal_autocheckpoint = 0")  # _Checkpoints checkpoints, not a COMMIT
        connection = await asyncio.to_thread(_Connection, path, "quarry-sqlite", pragmas)
        checkpointing = await asyncio.to_thread(_Connection, path, "quarry-sqlite-checkpoints", _PRAGMAS[1:2])
        return cls(connection, _Checkpoints(checkpointing, connection, checkpoint_s, restart_frames))

    async def execute(self, sql: str, *args: Any) -> int:
        def work(db: sqlite3.Connection) -> int:
            return max(db.execute(sql, args).rowcount, 0)

        changed = await self._db.run(work)
        self._checkpoints.written()
        return changed

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

        def work(db: sqlite3.Connection) -> None:
            with _immediate(db):
                for sql, rows in merged.items():
                    if rows:
                        db.executemany(sql, rows)

        await self._db.run(work)
        self._checkpoints.written()

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        def work(db: sqlite3.Connection) -> list[Row]:
            cursor = db.execute(sql, args)
            return _rows(cursor, cursor.fetchall())

        return await self._db.run(work)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        def work(db: sqlite3.Connection) -> Row | None:
            cursor = db.execute(sql, args)
            row = cursor.fetchone()
            return None if row is None else _rows(cursor, [row])[0]

        return await self._db.run(work)

    async def migrate(self, steps: list[dict[str, list[str]]]) -> int:
        def work(db: sqlite3.Connection) -> None:
            db.execute("CREATE TABLE IF NOT EXISTS quarry_migrations (version INTEGER PRIMARY KEY, at REAL)")
            for version, step in enumerate(steps, start=1):
                with _immediate(db):  # one migrator at a time, across processes
                    if db.execute("SELECT 1 FROM quarry_migrations WHERE version = ?", (version,)).fetchone():
                        continue
                    for statement in step["sqlite"]:
                        db.execute(statement)
                    db.execute("INSERT INTO quarry_migrations VALUES (?, ?)", (version, time.time()))

        await self._db.run(work)
        return len(steps)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)  # what is queued lands first
        await self._checkpoints.aclose()
        await asyncio.to_thread(self._db.close)  # the last connection to the file checkpoints it as it closes


def _connect(path: Path, pragmas: tuple[str, ...]) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # explicit transactions only
    for pragma in pragmas:
        db.execute(f"PRAGMA {pragma}")
    return db


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One transaction. IMMEDIATE takes SQLite's write lock at BEGIN, waiting up to busy_timeout for it: other
    processes (`serve --workers N`, the CLI) write the same file; https://www.sqlite.org/lang_transaction.html"""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _rows(cursor: sqlite3.Cursor, rows: list[Any]) -> list[Row]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _checkpoint(db: sqlite3.Connection) -> int:
    """A PASSIVE checkpoint (https://www.sqlite.org/pragma.html#pragma_wal_checkpoint); returns the WAL's frames."""
    _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
