"""Both knowledge-base store backends, for tests that hold for either: SQLite files in a temporary folder and
PostgreSQL (pgvector) from `pgserver`, a database of its own per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from quarry.kb._postgres_store import PostgresBackend
from quarry.kb._sqlite_store import SQLiteBackend
from quarry.kb._store import StoreBackend


async def fresh_database(postgres_url: str) -> str:
    """A new, empty database on the test server; its URL."""
    name = f"kb_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    base, _, query = postgres_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreBackend]:
    if request.param == "sqlite":
        made: StoreBackend = SQLiteBackend(tmp_path / "kb")
    else:
        # a low `exact_rows`, so filtered searches of the bigger test tables walk the HNSW graph
        made = PostgresBackend(await fresh_database(request.getfixturevalue("postgres_url")), exact_rows=200)
    yield made
    await made.close()
