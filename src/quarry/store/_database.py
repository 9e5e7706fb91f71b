"""The seam between Quarry and its database: a few async calls with `?` placeholders, one implementation per
backend (`_sqlite.py`, `_postgres.py`), chosen by URL."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Database", "Row", "Step"]

Row = dict[str, Any]
Step = tuple[str, list[tuple[Any, ...]]]  # a statement and the rows it runs over


class Database(Protocol):
    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    async def write(self, steps: list[Step]) -> None:
        """Each step's statement run over its rows, all in one transaction; concurrent writes may share one (a group
        commit), each caller's own failure still its own."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def migrate(self, steps: list[dict[str, list[str]]]) -> int:
        """Apply the steps not applied yet, each in one transaction; returns the schema version."""
        ...

    async def close(self) -> None: ...
