"""PostgreSQL through an asyncpg pool, for many instances sharing keys and usage (the `postgres` extra)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from quarry.store._database import Row, Step

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresDatabase"]

_PLACEHOLDER = re.compile(r"\?")
_MIGRATION_LOCK = 0x51A77  # pg_advisory lock id: one migrator at a time across instances


def _numbered(sql: str) -> str:
    """`?` placeholders (the store's dialect-neutral form) → `$1, $2, …`."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class PostgresDatabase:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_size: int = 10) -> PostgresDatabase:
        try:
            import asyncpg
        except ImportError:
            raise RuntimeError("PostgreSQL needs the `postgres` extra: pip install 'quarry[postgres]'") from None
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size)
        return cls(pool)

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._pool.execute(_numbered(sql), *args)  # e.g. "UPDATE 1"
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.executemany(_numbered(sql), rows)

    async def write(self, steps: list[Step]) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            for sql, rows in steps:
                await connection.executemany(_numbered(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(row) for row in await self._pool.fetch(_numbered(sql), *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row = await self._pool.fetchrow(_numbered(sql), *args)
        return dict(row) if row is not None else None

    async def migrate(self, steps: list[dict[str, list[str]]]) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS quarry_migrations (version INTEGER PRIMARY KEY, at DOUBLE PRECISION)"
            )
            done = {row["version"] for row in await connection.fetch("SELECT version FROM quarry_migrations")}
            for version, step in enumerate(steps, start=1):
                if version not in done:
                    for statement in step["postgresql"]:
                        await connection.execute(statement)
                    await connection.execute("INSERT INTO quarry_migrations VALUES ($1, $2)", version, time.time())
        return len(steps)

    async def close(self) -> None:
        await self._pool.close()
