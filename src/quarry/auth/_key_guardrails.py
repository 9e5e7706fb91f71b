"""A team key's own Bedrock guardrail (the `key_guardrails` table), which wins over the server's `[guardrails]`.
Lookups on the request path are cached for `ttl_s`, as keys are: a changed guardrail applies within that time."""

from __future__ import annotations

import time

from quarry.settings import GuardrailSettings
from quarry.store import Database, Row

__all__ = ["KeyGuardrails"]


def _guardrail(row: Row) -> GuardrailSettings:
    return GuardrailSettings(
        identifier=row["identifier"],
        version=row["version"],
        trace=row["trace"],
        stream_processing_mode=row["stream_processing_mode"],
    )


class KeyGuardrails:
    def __init__(self, database: Database, *, ttl_s: float = 0.5) -> None:
        self._db = database
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, GuardrailSettings | None]] = {}

    async def get(self, key_id: str) -> GuardrailSettings | None:
        row = await self._db.fetchrow("SELECT * FROM key_guardrails WHERE key_id = ?", key_id)
        return _guardrail(row) if row is not None else None

    async def cached(self, key_id: str) -> GuardrailSettings | None:
        """`get`, answered from memory for `ttl_s`: the request path's lookup."""
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        guardrail = await self.get(key_id)
        if len(self._cache) > 10_000:  # bounded: a key not seen for a while is simply looked up again
            self._cache.clear()
        self._cache[key_id] = (now, guardrail)
        return guardrail

    async def all(self) -> dict[str, GuardrailSettings]:
        found = {}
        for row in await self._db.fetch("SELECT * FROM key_guardrails ORDER BY key_id"):
            found[row["key_id"]] = _guardrail(row)
        return found

    async def put(self, key_id: str, guardrail: GuardrailSettings | None) -> None:
        """Set the key's guardrail; None removes it (the server's settings apply again)."""
        await self._db.execute("DELETE FROM key_guardrails WHERE key_id = ?", key_id)
        if guardrail is not None:
            await self._db.execute(
                "INSERT INTO key_guardrails (key_id, identifier, version, trace, stream_processing_mode)"
                " VALUES (?, ?, ?, ?, ?)",
                key_id, guardrail.identifier, guardrail.version, guardrail.trace, guardrail.stream_processing_mode,
            )  # fmt: skip
        self._cache.pop(key_id, None)
