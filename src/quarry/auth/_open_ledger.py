"""Which ledger holds budgets: the one place that chooses, by the URLs the server was given."""

from __future__ import annotations

from quarry.auth._ledger import InProcessLedger, SpendLedger
from quarry.auth._postgres_ledger import PostgresLedger
from quarry.auth._redis_ledger import RedisLedger

__all__ = ["open_ledger"]


async def open_ledger(*, redis_url: str | None, database_url: str | None) -> SpendLedger:
    """Redis when there is one (it holds the rate limits too); else PostgreSQL when that is the database, so that
    replicas sharing it share their budgets; else this process's memory (one instance on SQLite)."""
    if redis_url:
        return RedisLedger.from_url(redis_url)
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        return await PostgresLedger.open(database_url)
    return InProcessLedger()
