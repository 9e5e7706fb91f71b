"""The embedded database under concurrent requests: every request shares one SQLite connection, so transactions
and single statements from many tasks at once must take turns."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quarry.store import open_database


async def test_concurrent_batches_and_statements_all_land(tmp_path: Path) -> None:
    database = await open_database(None, tmp_path)
    try:
        await database.execute("CREATE TABLE t (batch INTEGER, n INTEGER)")

        async def batch(number: int) -> None:
            await database.executemany("INSERT INTO t VALUES (?, ?)", [(number, n) for n in range(20)])

        async def single(number: int) -> None:
            await database.execute("INSERT INTO t VALUES (?, ?)", -number, 0)

        # Each batch is a transaction: before, a second BEGIN on the shared connection failed ("cannot start a
        # transaction within a transaction") and a single statement could join another task's transaction.
        await asyncio.gather(*(batch(i) for i in range(32)), *(single(i) for i in range(1, 33)))
        row = await database.fetchrow("SELECT COUNT(*) AS rows FROM t")
        assert row == {"rows": 32 * 20 + 32}
    finally:
        await database.close()


async def test_a_failed_batch_rolls_back_only_itself(tmp_path: Path) -> None:
    database = await open_database(None, tmp_path)
    try:
        await database.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")

        async def good() -> None:
            await database.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(100, 110)])

        async def bad() -> None:
            await database.executemany("INSERT INTO t VALUES (?)", [(1,), (1,)])  # a duplicate key

        results = await asyncio.gather(good(), bad(), good(), return_exceptions=True)
        assert [type(result).__name__ for result in results] == ["NoneType", "IntegrityError", "IntegrityError"]
        row = await database.fetchrow("SELECT COUNT(*) AS rows FROM t")
        assert row == {"rows": 10}
    finally:
        await database.close()
