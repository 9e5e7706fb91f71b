"""Usage over time: requests, errors, tokens and cost per time bucket (an hour, a day), optionally split by key or
model, for plots. The usage table holds one row per call; the grouping is done by the database."""

from __future__ import annotations

from typing import Literal

from quarry.store import Database, Row

__all__ = ["usage_series"]

Split = Literal["key", "model"]
_COLUMNS: dict[str, str] = {"key": "key_id", "model": "model"}


def _floor(bucket_s: int) -> str:
    # The bucket number of `at`. SQLite's CAST truncates and PostgreSQL's rounds; the CASE makes both a floor.
    whole = f"CAST(at / {bucket_s} AS INTEGER)"
    return f"({whole} - CASE WHEN {whole} > at / {bucket_s} THEN 1 ELSE 0 END)"


async def usage_series(
    database: Database, *, since: float, bucket_s: int, split: Split | None = None, key_id: str | None = None
) -> list[Row]:
    """Rows of `start` (the bucket's epoch second), `group` (a key id or model, or None), requests, errors, tokens
    (input, output and cache), cost_usd; in order of time. Only `key_id`'s calls when it is given."""
    if bucket_s < 1:
        raise ValueError("bucket_s must be at least one second")
    bucket = _floor(int(bucket_s))
    group = _COLUMNS[split] if split else "NULL"
    grouping = f"{bucket}, {group}" if split else bucket
    where, args = "at >= ?", list[object]([since])
    if key_id is not None:
        where += " AND key_id = ?"
        args.append(key_id)
    rows = await database.fetch(
        f"SELECT {bucket} AS bucket, {group} AS grp, COUNT(*) AS requests,"  # noqa: S608  # fixed fragments only
        " SUM(CASE WHEN status >= 400 OR error_type IS NOT NULL THEN 1 ELSE 0 END) AS errors,"
        " SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens) AS tokens,"
        " SUM(cost_usd) AS cost_usd"
        f" FROM usage WHERE {where} GROUP BY {grouping} ORDER BY {bucket}",
        *args,
    )
    return [
        {
            "start": int(row["bucket"]) * bucket_s,
            "group": row["grp"],
            "requests": int(row["requests"] or 0),
            "errors": int(row["errors"] or 0),
            "tokens": int(row["tokens"] or 0),
            "cost_usd": float(row["cost_usd"] or 0.0),
        }
        for row in rows
    ]
