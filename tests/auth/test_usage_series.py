"""Usage over time (`usage_series`) on SQLite and PostgreSQL: calls fall into the bucket their time floors to (both
databases: PostgreSQL's CAST rounds, SQLite's truncates), split by model, filtered by key."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quarry.auth import usage_series
from quarry.store import Database, open_database

HOUR = 3600
BASE = 500_000 * HOUR  # an hour boundary in 2027, after no other test's rows
INSERT = (
    "INSERT INTO usage (at, day, request_id, key_id, api, model, stream, status, error_type, input_tokens,"
    " output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, ttft_ms, cost_usd)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    opened = await open_database(url, tmp_path)
    yield opened
    await opened.close()


def row(at: float, key: str, model: str, *, status: int = 200, cost: float | None = 0.5) -> tuple[object, ...]:
    return (at, int(at // 86400), "req", key, "chat.completions", model, False, status, None if status < 400 else
            "UpstreamError", 10, 5, 1, 0, 100.0, None, cost)  # fmt: skip


async def test_calls_fall_into_the_hour_they_were_made_in(database: Database) -> None:
    key = f"key_{secrets.token_hex(6)}"
    await database.executemany(
        INSERT,
        [
            row(BASE + 1, key, "a"),
            row(BASE + HOUR - 0.1, key, "b", status=502, cost=None),  # late in the hour: rounding would move it on
            row(BASE + HOUR, key, "a"),
            row(BASE + 5, "key_someone_else", "a"),
        ],
    )
    hours = await usage_series(database, since=BASE, bucket_s=HOUR, key_id=key)
    assert hours == [
        {"start": BASE, "group": None, "requests": 2, "errors": 1, "tokens": 32, "cost_usd": 0.5},
        {"start": BASE + HOUR, "group": None, "requests": 1, "errors": 0, "tokens": 16, "cost_usd": 0.5},
    ]
    by_model = await usage_series(database, since=BASE, bucket_s=HOUR, split="model", key_id=key)
    assert sorted((r["start"], r["group"], r["requests"]) for r in by_model) == [
        (BASE, "a", 1),
        (BASE, "b", 1),
        (BASE + HOUR, "a", 1),
    ]
    assert await usage_series(database, since=BASE + 2 * HOUR, bucket_s=HOUR, key_id=key) == []
    with pytest.raises(ValueError, match="bucket_s"):
        await usage_series(database, since=BASE, bucket_s=0)
