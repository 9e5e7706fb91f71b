"""Database access: embedded SQLite under the data dir by default, PostgreSQL when a URL names one."""

from __future__ import annotations

from pathlib import Path

from quarry.store._database import Database, Row, Step
from quarry.store._migrations import MIGRATIONS
from quarry.store._postgres import PostgresDatabase
from quarry.store._sqlite import SQLiteDatabase

__all__ = ["MIGRATIONS", "Database", "PostgresDatabase", "Row", "SQLiteDatabase", "Step", "open_database"]


async def open_database(url: str | None, data_dir: Path) -> Database:
    """The database, migrated to the current schema. `postgresql://…` (or `postgres://…`) → PostgreSQL;
    `sqlite:///path` → that file; nothing → `quarry.db` in the data dir."""
    database: Database
    if url and url.startswith(("postgresql://", "postgres://")):
        database = await PostgresDatabase.open(url)
    elif url and not url.startswith("sqlite:///"):
        raise ValueError(f"database_url must start with postgresql:// or sqlite:///, not {url.split(':', 1)[0]}:")
    else:
        database = await SQLiteDatabase.open(Path(url.removeprefix("sqlite:///")) if url else data_dir / "quarry.db")
    try:
        await database.migrate(MIGRATIONS)
    except BaseException:
        await database.close()
        raise
    return database
