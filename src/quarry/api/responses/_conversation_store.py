"""Conversations of OpenAI's Conversations API (https://platform.openai.com/docs/api-reference/conversations) in
Quarry's database (migration 9), each visible only to the API key that made it: another key's conversation is as
absent as a missing one. Items keep their order of arrival; they are JSON as the Responses API takes and lists them
(reasoning sealed inside, so Claude's thinking goes back to its turn when the conversation continues)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from quarry.store import Database

__all__ = ["Conversation", "ConversationStore", "Page"]


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    created_at: int
    metadata: dict[str, str]

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "object": "conversation", "created_at": self.created_at, "metadata": self.metadata}


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool


class ConversationStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, key_id: str, conversation_id: str, metadata: dict[str, str]) -> Conversation:
        now = int(time.time())
        await self._db.execute(
            "INSERT INTO response_conversations (id, key_id, created_at, metadata) VALUES (?, ?, ?, ?)",
            conversation_id, key_id, now, orjson.dumps(metadata).decode(),
        )  # fmt: skip
        return Conversation(conversation_id, now, metadata)

    async def get(self, key_id: str, conversation_id: str) -> Conversation | None:
        row = await self._db.fetchrow(
            "SELECT created_at, metadata FROM response_conversations WHERE id = ? AND key_id = ?",
            conversation_id,
            key_id,
        )
        if row is None:
            return None
        return Conversation(conversation_id, int(row["created_at"]), orjson.loads(row["metadata"]))

    async def update(self, key_id: str, conversation_id: str, metadata: dict[str, str]) -> Conversation | None:
        changed = await self._db.execute(
            "UPDATE response_conversations SET metadata = ? WHERE id = ? AND key_id = ?",
            orjson.dumps(metadata).decode(), conversation_id, key_id,
        )  # fmt: skip
        return await self.get(key_id, conversation_id) if changed else None

    async def delete(self, key_id: str, conversation_id: str) -> bool:
        deleted = await self._db.execute(
            "DELETE FROM response_conversations WHERE id = ? AND key_id = ?", conversation_id, key_id
        )
        if deleted:
            # OpenAI keeps a deleted conversation's items; here nothing could reach them any more.
            await self._db.execute("DELETE FROM response_conversation_items WHERE conversation_id = ?", conversation_id)
        return deleted > 0

    async def append(self, conversation_id: str, items: list[dict[str, Any]]) -> None:
        """Add items at the end (the caller has checked that the key owns the conversation)."""
        if items:
            await self._db.executemany(
                "INSERT INTO response_conversation_items (conversation_id, id, body) VALUES (?, ?, ?)",
                [(conversation_id, str(item["id"]), orjson.dumps(item).decode()) for item in items],
            )

    async def items(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every item, oldest first: what a response continuing the conversation starts from."""
        rows = await self._db.fetch(
            "SELECT body FROM response_conversation_items WHERE conversation_id = ? ORDER BY seq", conversation_id
        )
        return [orjson.loads(row["body"]) for row in rows]

    async def page(self, conversation_id: str, *, after: int | None, limit: int, order: Literal["asc", "desc"]) -> Page:
        """Up to `limit` items after the one at sequence `after`, in `order`."""
        direction, compare = ("ASC", ">") if order == "asc" else ("DESC", "<")
        where = f" AND seq {compare} ?" if after is not None else ""
        args: list[Any] = [conversation_id] if after is None else [conversation_id, after]
        rows = await self._db.fetch(
            f"SELECT body FROM response_conversation_items WHERE conversation_id = ?{where}"  # noqa: S608 (no input)
            f" ORDER BY seq {direction} LIMIT {limit + 1}",
            *args,
        )
        return Page([orjson.loads(row["body"]) for row in rows[:limit]], len(rows) > limit)

    async def position(self, conversation_id: str, item_id: str) -> int | None:
        """The sequence number of an item (its latest copy, should the id repeat)."""
        row = await self._db.fetchrow(
            "SELECT MAX(seq) AS seq FROM response_conversation_items WHERE conversation_id = ? AND id = ?",
            conversation_id, item_id,
        )  # fmt: skip
        return None if row is None or row["seq"] is None else int(row["seq"])

    async def item(self, conversation_id: str, item_id: str) -> dict[str, Any] | None:
        seq = await self.position(conversation_id, item_id)
        if seq is None:
            return None
        row = await self._db.fetchrow("SELECT body FROM response_conversation_items WHERE seq = ?", seq)
        return None if row is None else dict(orjson.loads(row["body"]))

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        deleted = await self._db.execute(
            "DELETE FROM response_conversation_items WHERE conversation_id = ? AND id = ?", conversation_id, item_id
        )
        return deleted > 0
