"""The embedded database checkpoints its WAL off the writers' path (a COMMIT no longer does it): a committed write is
read at once through another connection to the file (another worker, the CLI), reaches the database file itself by
a checkpoint while the database is open, and writes that never pause still let the WAL start again from its
beginning rather than grow for ever."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from quarry.store import SQLiteDatabase, open_database


def _in_file(path: Path, table: str) -> int:
    """Rows of `table` in the database file alone: immutable=1 reads it without its WAL."""
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    except sqlite3.OperationalError:  # the table itself is still only in the WAL
        count = 0
    finally:
        db.close()
    return int(count)


async def test_a_write_is_read_at_once_through_another_connection(tmp_path: Path) -> None:
    first, second = await open_database(None, tmp_path), await open_database(None, tmp_path)  # two workers' files
    try:
        await first.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        for n in range(20):
            await first.write([("INSERT INTO t VALUES (?)", [(n,)])])
            assert await second.fetchrow("SELECT n FROM t WHERE n = ?", n) == {"n": n}
    finally:
        await first.close()
        await second.close()


async def test_commits_reach_the_database_file_while_it_is_open(tmp_path: Path) -> None:
    path = tmp_path / "quarry.db"
    database = await SQLiteDatabase.open(path, checkpoint_s=0.01)
    try:
        await database.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        await database.write([("INSERT INTO t VALUES (?)", [(n,) for n in range(100)])])
        for _ in range(1000):  # up to ~10 s on a busy machine; one checkpoint round is 10 ms
            if _in_file(path, "t") == 100:
                break
            await asyncio.sleep(0.01)
        assert _in_file(path, "t") == 100
    finally:
        await database.close()


async def test_the_wal_starts_again_while_writes_never_pause(tmp_path: Path) -> None:
    path = tmp_path / "quarry.db"
    wal = path.with_name(path.name + "-wal")
    database = await SQLiteDatabase.open(path, checkpoint_s=0.005, restart_frames=50)
    try:
        await database.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, blob BLOB)")
        restarts: set[bytes] = set()
        for n in range(2000):  # back to back: every checkpoint sees writes land while it runs
            await database.write([("INSERT INTO t VALUES (?, ?)", [(n, bytes(8192))])])
            with wal.open("rb") as header:  # https://www.sqlite.org/fileformat.html#wal_file_format
                restarts.add(header.read(16)[12:16])  # the checkpoint sequence number: one more at each restart
        assert len(restarts) >= 3
        assert (await database.fetchrow("SELECT count(*) AS n FROM t")) == {"n": 2000}
    finally:
        await database.close()
