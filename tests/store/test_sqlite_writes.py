"""The embedded database's one shared connection under concurrent writers: batched writes (the usage writer's
group commit) and single statements (the Responses store, keys) from many coroutines at once must all land, and a
failed batch must roll back only its own rows."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from quarry.store import open_database


async def test_concurrent_batches_and_statements_all_land(tmp_path: Path) -> None:
    database = await open_database(None, tmp_path)
    try:
        await database.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        batches = [
            database.executemany("INSERT INTO t VALUES (?)", [(b * 10 + i,) for i in range(10)]) for b in range(30)
        ]
        singles = [database.execute("INSERT INTO t VALUES (?)", 1000 + i) for i in range(30)]
        await asyncio.gather(*batches, *singles)
        rows = await database.fetch("SELECT n FROM t ORDER BY n")
        assert [row["n"] for row in rows] == [*range(300), *range(1000, 1030)]
    finally:
        await database.close()


async def test_a_failed_batch_rolls_back_only_its_own_rows(tmp_path: Path) -> None:
    database = await open_database(None, tmp_path)
    try:
        await database.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        await database.execute("INSERT INTO t VALUES (?)", 5)
        failing = database.executemany("INSERT INTO t VALUES (?)", [(4,), (5,)])  # 5 is taken: the batch fails
        others = [database.execute("INSERT INTO t VALUES (?)", 100 + i) for i in range(10)]
        results = await asyncio.gather(failing, *others, return_exceptions=True)
        assert isinstance(results[0], sqlite3.IntegrityError)
        assert results[1:] == [1] * 10
        rows = await database.fetch("SELECT n FROM t ORDER BY n")
        assert [row["n"] for row in rows] == [5, *range(100, 110)]  # 4 went with its batch; the others stayed
    finally:
        await database.close()
