"""Stored responses (`store: true`, OpenAI's default) in Quarry's database, each visible only to the API key that
made it, kept for `responses.store_ttl_s`; an expired row is as absent as a deleted one, and is swept on writes
(its items and reasoning by their response: theirs is its expiry).

A background response is saved `queued` and moved on by its task; only an unfinished row is overwritten, so a
cancel (on any instance) wins over a task finishing after it. Its task beats `heartbeat_at` while it runs: an
unfinished response whose heartbeat has stopped is failed with the reason, when read or at start-up, never left
in progress for ever; a running instance's responses are not, whoever restarts (instances share PostgreSQL)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from quarry.store import Database, Step

__all__ = ["HEARTBEAT_S", "UNFINISHED", "ResponseStore", "Stored"]

UNFINISHED = ("queued", "in_progress")
HEARTBEAT_S = 10  # how often a running background response's task says it is alive
_STALE_S = 6 * HEARTBEAT_S  # unfinished and silent this long: no instance runs it any more (a restart, a crash)
_ABANDONED = "The server running this background response stopped before it finished."


_MAX_CHAIN = 10_000  # responses followed back through previous_id: far beyond any conversation
_INSERT_RESPONSE = (
    "INSERT INTO responses (id, key_id, created_at, expires_at, status, heartbeat_at, previous_id, body, input_items)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ITEM = (
    "INSERT INTO response_items (key_id, id, response_id, expires_at, item) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_SWEEP = [  # three index probes when nothing expired; the responses last, as their items are found through them
    "DELETE FROM response_items WHERE response_id IN (SELECT id FROM responses WHERE expires_at < ?)",
    "DELETE FROM response_reasoning WHERE response_id IN (SELECT id FROM responses WHERE expires_at < ?)",
    "DELETE FROM responses WHERE expires_at < ?",
]
_INSERT_REASONING = (
    "INSERT INTO response_reasoning (id, response_id, key_id, expires_at, sealed) VALUES (?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class Stored:
    body: dict[str, Any]  # the response as made (reasoning sealed inside)
    input_items: list[dict[str, Any]]  # this response's own input, each with its id


class ResponseStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(self, key_id: str, stored: Stored, ttl_s: int) -> None:
        """Sweep the expired rows and store the response, its items and its reasoning, in one write (which concurrent
        saves share: see `Database.write`); committed when this returns, so any instance can read it at once."""
        now = int(time.time())
        expires_at = now + ttl_s
        body = stored.body
        row = (
            body["id"], key_id, now, expires_at, body["status"], now, body.get("previous_response_id"),
            orjson.dumps(body).decode(), orjson.dumps(stored.input_items).decode(),
        )  # fmt: skip
        await self._db.write(
            [
                *[(sweep, [(now,)]) for sweep in _SWEEP],
                (_INSERT_RESPONSE, [row]),
                *_output_rows(body, key_id, expires_at),
                (_INSERT_ITEM, _item_rows(body["id"], stored.input_items, key_id, expires_at)),
            ]
        )

    async def reasoning(self, key_id: str, item_ids: list[str]) -> dict[str, str]:
        """The sealed content of the key's stored reasoning items among `item_ids`."""
        found: dict[str, str] = {}
        now = int(time.time())
        for item_id in item_ids:
            row = await self._db.fetchrow(
                "SELECT sealed FROM response_reasoning WHERE id = ? AND key_id = ? AND expires_at >= ?",
                item_id, key_id, now,
            )  # fmt: skip
            if row is not None:
                found[item_id] = row["sealed"]
        return found

    async def items(self, key_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The key's stored items among `item_ids` (any output item of its stored responses, or input item as kept)."""
        found: dict[str, dict[str, Any]] = {}
        now = int(time.time())
        for item_id in dict.fromkeys(item_ids):
            row = await self._db.fetchrow(
                "SELECT item FROM response_items WHERE key_id = ? AND id = ? AND expires_at >= ?",
                key_id, item_id, now,
            )  # fmt: skip
            if row is not None:
                found[item_id] = orjson.loads(row["item"])
        return found

    async def advance(self, body: dict[str, Any]) -> bool:
        """Replace an unfinished response's body (and status); False when it has finished meanwhile (cancelled)."""
        changed = await self._db.execute(
            "UPDATE responses SET status = ?, body = ?, heartbeat_at = ? WHERE id = ? AND status IN (?, ?)",
            body["status"], orjson.dumps(body).decode(), int(time.time()), body["id"], *UNFINISHED,
        )  # fmt: skip
        if changed and body["output"]:
            row = await self._db.fetchrow("SELECT key_id, expires_at FROM responses WHERE id = ?", body["id"])
            if row is not None:
                await self._db.write(_output_rows(body, row["key_id"], row["expires_at"]))
        return changed > 0

    async def beat(self, response_id: str) -> None:
        """A running background response is alive."""
        await self._db.execute(
            "UPDATE responses SET heartbeat_at = ? WHERE id = ? AND status IN (?, ?)",
            int(time.time()), response_id, *UNFINISHED,
        )  # fmt: skip

    async def get(self, key_id: str, response_id: str) -> Stored | None:
        now = int(time.time())
        row = await self._db.fetchrow(
            "SELECT status, heartbeat_at, body, input_items FROM responses"
            " WHERE id = ? AND key_id = ? AND expires_at >= ?",
            response_id, key_id, now,
        )  # fmt: skip
        if row is None:
            return None
        body = orjson.loads(row["body"])
        if row["status"] in UNFINISHED and row["heartbeat_at"] < now - _STALE_S:
            body = _failed(body, _ABANDONED)
            await self.advance(body)
        return Stored(body, orjson.loads(row["input_items"]))

    async def chain(self, key_id: str, response_id: str) -> list[dict[str, Any]] | None:
        """Every item a response continuing `response_id` starts from: the input and output of each response of its
        previous_response_id chain, oldest first; None when the key has no such response. A response deleted or
        expired inside the chain ends it there."""
        rows = await self._db.fetch(
            "WITH RECURSIVE chain (id, previous_id, depth) AS ("
            " SELECT id, previous_id, 0 FROM responses WHERE id = ? AND key_id = ? AND expires_at >= ?"
            " UNION ALL SELECT r.id, r.previous_id, c.depth + 1 FROM responses r JOIN chain c ON r.id = c.previous_id"
            " WHERE r.key_id = ? AND c.depth < ?)"
            " SELECT r.body, r.input_items FROM chain c JOIN responses r ON r.id = c.id ORDER BY c.depth DESC",
            response_id, key_id, int(time.time()), key_id, _MAX_CHAIN,
        )  # fmt: skip
        if not rows:
            return None
        items: list[dict[str, Any]] = []
        for row in rows:
            items += orjson.loads(row["input_items"])
            items += orjson.loads(row["body"])["output"]
        return items

    async def delete(self, key_id: str, response_id: str) -> bool:
        deleted = await self._db.execute("DELETE FROM responses WHERE id = ? AND key_id = ?", response_id, key_id)
        if deleted:
            await self._db.execute("DELETE FROM response_reasoning WHERE response_id = ?", response_id)
            await self._db.execute("DELETE FROM response_items WHERE response_id = ?", response_id)
        return deleted > 0

    async def fail_abandoned(self, *, stale_s: int = _STALE_S) -> int:
        """Fail the unfinished background responses whose heartbeat stopped `stale_s` ago (at start-up)."""
        rows = await self._db.fetch(  # UNFINISHED, as literals: as the partial index responses_unfinished names them
            "SELECT body FROM responses WHERE status IN ('queued', 'in_progress') AND heartbeat_at < ?",
            int(time.time()) - stale_s,
        )
        failed = 0
        for row in rows:
            failed += await self.advance(_failed(orjson.loads(row["body"]), _ABANDONED))
        return failed


def _item_rows(response_id: str, items: list[dict[str, Any]], key_id: str, expires_at: int) -> list[tuple[Any, ...]]:
    return [
        (key_id, item["id"], response_id, expires_at, orjson.dumps(item).decode())
        for item in items
        if isinstance(item.get("id"), str) and item.get("type") != "item_reference"
    ]


def _output_rows(body: dict[str, Any], key_id: str, expires_at: int) -> list[Step]:
    """The output's items by id, and its reasoning's sealed content (for replays that leave it out)."""
    reasoning = [
        (item["id"], body["id"], key_id, expires_at, item["encrypted_content"])
        for item in body["output"]
        if item.get("type") == "reasoning" and item.get("encrypted_content")
    ]
    return [(_INSERT_ITEM, _item_rows(body["id"], body["output"], key_id, expires_at)), (_INSERT_REASONING, reasoning)]


def _failed(body: dict[str, Any], reason: str) -> dict[str, Any]:
    return {**body, "status": "failed", "error": {"code": "server_error", "message": reason}}
