"""The embedded database's one shared connection under concurrent writers: batched writes (the usage writer's
group commit, the Responses store's writes) and single statements (keys) from many coroutines at once must all land,
and a failed batch must roll back only its own rows."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from quarry.store import Database, open_database


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    database = await open_database(url, tmp_path)
    try:
        yield database
    finally:
        await database.close()


async def test_concurrent_writes_all_land(database: Database) -> None:
    t, u = f"w_{uuid.uuid4().hex}", f"w_{uuid.uuid4().hex}"  # PostgreSQL's database lives for the whole session
    await database.execute(f"CREATE TABLE {t} (n INTEGER PRIMARY KEY)")
    await database.execute(f"CREATE TABLE {u} (n INTEGER PRIMARY KEY)")
    writes = [
        database.write([(f"INSERT INTO {t} VALUES (?)", [(i,)]), (f"INSERT INTO {u} VALUES (?)", [(i,), (100 + i,)])])
        for i in range(40)
    ]
    await asyncio.gather(*writes, database.execute(f"INSERT INTO {t} VALUES (?)", 1000))
    assert [row["n"] for row in await database.fetch(f"SELECT n FROM {t} ORDER BY n")] == [*range(40), 1000]
    assert [row["n"] for row in await database.fetch(f"SELECT n FROM {u} ORDER BY n")] == [*range(40), *range(100, 140)]


async def test_a_failed_write_fails_alone(database: Database) -> None:
    """On SQLite the eleven writes share a transaction: the failed one is retried alone, and fails alone."""
    t = f"w_{uuid.uuid4().hex}"
    await database.execute(f"CREATE TABLE {t} (n INTEGER PRIMARY KEY)")
    await database.execute(f"INSERT INTO {t} VALUES (?)", 5)
    writes = [database.write([(f"INSERT INTO {t} VALUES (?)", [(10 + i,)])]) for i in range(10)]
    failing = database.write([(f"INSERT INTO {t} VALUES (?)", [(4,), (5,)])])  # 5 is taken: this write fails
    results = await asyncio.gather(*writes, failing, return_exceptions=True)
    assert results[:10] == [None] * 10
    assert isinstance(results[10], (sqlite3.IntegrityError, asyncpg.UniqueViolationError))
    rows = await database.fetch(f"SELECT n FROM {t} ORDER BY n")
    assert [row["n"] for row in rows] == [5, *range(10, 20)]  # 4 went with its write; the others stayed
