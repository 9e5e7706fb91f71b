"""Usage records: one row per API call (who, which model, tokens, latency, time to first token, status; never
prompt or answer text), queued by a cheap listener and written in batches by a background task. What is queued when
the server stops is written before it exits.

Durable (a group commit): the listener hands back the commit of the batch its row joined, and the response's last
bytes wait for it, so an answered call has its row even if the process is then killed. The writer flushes as soon
as rows wait, so concurrent calls share one INSERT. A row is identified by (request id, time): a retried INSERT
whose first try did commit adds nothing (ON CONFLICT DO NOTHING on migration 13's unique index)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Literal

from quarry.auth._authenticator import BOOTSTRAP_KEY_ID, OPEN_ACCESS_KEY_ID
from quarry.auth._keys import KeyStore
from quarry.exchange import Exchange
from quarry.store import Database, Row

__all__ = ["UsageRecorder", "usage_report"]

log = logging.getLogger("quarry.usage")
_INSERT = (
    "INSERT INTO usage (at, day, request_id, key_id, api, model, stream, status, error_type, input_tokens,"
    " output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, ttft_ms, cost_usd, service_tier)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_MAX_QUEUE = 100_000  # rows kept while the database is unreachable; beyond that the oldest are dropped


class UsageRecorder:
    def __init__(self, database: Database, keys: KeyStore, *, flush_s: float = 1.0, durable: bool = False) -> None:
        self._db = database
        self._keys = keys
        self._flush_s = flush_s
        self._durable = durable
        self._rows: list[tuple[object, ...]] = []
        self._last_used: dict[str, float] = {}
        self._touched_at = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._waiting = asyncio.Event()  # durable: rows wait for a commit, so the writer goes now
        self._batch: asyncio.Future[None] | None = None  # durable: resolved when the queued rows are committed

    def __call__(self, exchange: Exchange) -> Awaitable[None] | None:
        """The listener: API calls only (not /health, not the admin API). Durable: returns the commit of its row."""
        if not exchange.api:
            return None
        now = time.time()
        ttft = exchange.ttft_s
        self._rows.append(
            (
                now, int(now // 86400), exchange.request_id, exchange.key_id, exchange.api, exchange.model,
                exchange.stream, exchange.status, exchange.error_type, exchange.input_tokens, exchange.output_tokens,
                exchange.cache_read_tokens, exchange.cache_write_tokens, exchange.latency_s * 1000,
                None if ttft is None else ttft * 1000, exchange.cost(), exchange.service_tier,
            )
        )  # fmt: skip
        if len(self._rows) > _MAX_QUEUE:
            del self._rows[: len(self._rows) - _MAX_QUEUE]
        if exchange.key_id and exchange.key_id.startswith("key_"):
            self._last_used[exchange.key_id] = now
        if not self._durable:
            return None
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        self._waiting.set()
        return asyncio.shield(self._batch)  # a waiter cancelled (its client gone) must not cancel the others' commit

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quarry-usage-writer")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # not durable, or idle: every flush_s (last-used times too)
                await asyncio.wait_for(self._waiting.wait(), self._flush_s)
            self._waiting.clear()
            try:
                # Keys' last-used times every flush_s only: a durable batch's waiters need not wait for them too.
                await self.flush(touch=time.monotonic() - self._touched_at >= self._flush_s)
            except Exception:
                log.exception("writing usage records failed; they are kept and retried")
                await asyncio.sleep(self._flush_s)  # not a busy loop against a database that is down

    async def flush(self, *, touch: bool = True) -> None:
        rows, self._rows = self._rows, []
        batch, self._batch = self._batch, None
        try:
            if rows:
                await self._db.executemany(_INSERT, rows)
        except BaseException:
            self._rows[:0] = rows
            raise
        finally:
            # Released on failure too: while the database is unreachable answers are not held back (their rows
            # stay queued and are retried), so an outage costs what it cost before, not a stalled gateway.
            if batch is not None and not batch.done():
                batch.set_result(None)
        if touch:
            last_used, self._last_used = self._last_used, {}
            self._touched_at = time.monotonic()
            await self._keys.touch(last_used)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()


Grouping = Literal["key", "model", "day", "api", "tier"]
_GROUPS: dict[str, str] = {
    "key": "key_id",
    "model": "model",
    "api": "api",
    "day": "day",
    "tier": "COALESCE(service_tier, 'default')",  # Bedrock's service tier; none asked or reported is its default
}


# Who made calls that no key-store row names: the bootstrap key, open access, and calls refused before any key was
# recognised (a missing or wrong key).
_UNSTORED_NAMES: dict[str | None, str] = {
    BOOTSTRAP_KEY_ID: "admin (bootstrap key)",
    OPEN_ACCESS_KEY_ID: "no key (open access)",
    None: "no valid key",
}


async def _key_names(database: Database) -> dict[str | None, tuple[str, bool]]:
    """Every key id usage can hold → (name, revoked): team keys (revoked ones too), the bootstrap key, no key."""
    names: dict[str | None, tuple[str, bool]] = {key: (name, False) for key, name in _UNSTORED_NAMES.items()}
    for key in await KeyStore(database).list(include_revoked=True):
        names[key.id] = (key.name, key.revoked_at is not None)
    return names


async def usage_report(database: Database, by: Grouping, *, since: float | None = None) -> list[Row]:
    """Requests, errors, tokens, cost (USD) and latency per key (with its name), model, API or UTC day."""
    group = _GROUPS[by]
    rows = await database.fetch(
        f"SELECT {group} AS grp, COUNT(*) AS requests,"  # noqa: S608  # the group is one of _GROUPS
        " SUM(CASE WHEN status >= 400 OR error_type IS NOT NULL THEN 1 ELSE 0 END) AS errors,"
        " SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,"
        " SUM(cache_read_tokens) AS cache_read_tokens, SUM(cache_write_tokens) AS cache_write_tokens,"
        " SUM(cost_usd) AS cost_usd,"
        " AVG(latency_ms) AS avg_latency_ms, AVG(ttft_ms) AS avg_ttft_ms"
        f" FROM usage WHERE at >= ? GROUP BY {group} ORDER BY {group}",
        since or 0.0,
    )
    names = await _key_names(database) if by == "key" else {}
    report = []
    for row in rows:
        group_value = row.pop("grp")
        if by == "day" and group_value is not None:
            group_value = time.strftime("%Y-%m-%d", time.gmtime(int(group_value) * 86400))
        named: Row = {by: group_value}
        if by == "key":
            name, revoked = names.get(group_value, (None, False))  # a key deleted from the store by hand
            named |= {"name": name, "revoked": revoked}
        cost = row.pop("cost_usd")  # dollars to the micro-dollar; the rest to a tenth
        report.append(named | {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()})
        report[-1]["cost_usd"] = None if cost is None else round(float(cost), 6)
    return report
