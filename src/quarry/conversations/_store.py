"""Conversations and per-user settings in Quarry's database (SQLite by default, PostgreSQL for many instances),
every row scoped by its `Owner`. A conversation is one JSON document; updates are compare-and-set on a version,
so two writers never lose each other's whole update, on either database."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from typing import Any

import orjson

from quarry.conversations._models import Conversation, ConversationPatch, ConversationSummary, Owner
from quarry.errors import Conflict
from quarry.store import Database

__all__ = ["ConversationStore"]

_ATTEMPTS = 5  # compare-and-set retries when another writer got there first
_BACKOFF_S = 0.01  # up to this many seconds, times the attempt, before the next: writers in step fall out of it


class ConversationStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def list(self, owner: Owner) -> list[ConversationSummary]:
        """The owner's conversations, most recently updated first."""
        rows = await self._db.fetch(
            "SELECT body FROM conversations WHERE principal = ? AND user_id = ? ORDER BY updated_at DESC, id",
            owner.principal, owner.user,
        )  # fmt: skip
        return [Conversation.model_validate_json(row["body"]).summary() for row in rows]

    async def create(self, owner: Owner, patch: ConversationPatch, *, default_model: str) -> Conversation:
        now = int(time.time())
        blank = Conversation(
            id=f"conv_{secrets.token_hex(12)}", title="New chat", model=default_model, created_at=now, updated_at=now
        )
        conversation = blank.patched(patch, now=now)
        await self._db.execute(
            "INSERT INTO conversations (id, principal, user_id, updated_at, version, body) VALUES (?, ?, ?, ?, 1, ?)",
            conversation.id, owner.principal, owner.user, now, conversation.model_dump_json(),
        )  # fmt: skip
        return conversation

    async def _row(self, owner: Owner, conversation_id: str) -> dict[str, Any] | None:
        return await self._db.fetchrow(
            "SELECT version, body FROM conversations WHERE id = ? AND principal = ? AND user_id = ?",
            conversation_id, owner.principal, owner.user,
        )  # fmt: skip

    async def get(self, owner: Owner, conversation_id: str) -> Conversation | None:
        row = await self._row(owner, conversation_id)
        return None if row is None else Conversation.model_validate_json(row["body"])

    async def update(self, owner: Owner, conversation_id: str, patch: ConversationPatch) -> Conversation | None:
        """The conversation with `patch` applied, None when there is none; Conflict (409) when other writers changed
        it under every attempt: the caller's requests racing each other, which it may retry, not a server fault."""
        for attempt in range(_ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, _BACKOFF_S * attempt))  # noqa: S311  # jitter, not a secret
            row = await self._row(owner, conversation_id)
            if row is None:
                return None
            now = int(time.time())
            updated = Conversation.model_validate_json(row["body"]).patched(patch, now=now)
            changed = await self._db.execute(
                "UPDATE conversations SET updated_at = ?, version = version + 1, body = ? WHERE id = ? AND version = ?",
                now, updated.model_dump_json(), conversation_id, row["version"],
            )  # fmt: skip
            if changed:
                return updated
        raise Conflict(
            f"The conversation `{conversation_id}` changed under this update {_ATTEMPTS} times (other requests are "
            "updating it at the same time); send it again.",
            param="conversation_id",
            code="conversation_conflict",
        )

    async def delete(self, owner: Owner, conversation_id: str) -> bool:
        deleted = await self._db.execute(
            "DELETE FROM conversations WHERE id = ? AND principal = ? AND user_id = ?",
            conversation_id, owner.principal, owner.user,
        )  # fmt: skip
        return deleted > 0

    async def get_settings(self, owner: Owner) -> dict[str, Any]:
        row = await self._db.fetchrow(
            "SELECT body FROM user_settings WHERE principal = ? AND user_id = ?", owner.principal, owner.user
        )
        settings: dict[str, Any] = {} if row is None else orjson.loads(row["body"])
        return settings

    async def put_settings(self, owner: Owner, settings: dict[str, Any]) -> None:
        await self._db.execute(
            "INSERT INTO user_settings (principal, user_id, body) VALUES (?, ?, ?)"
            " ON CONFLICT (principal, user_id) DO UPDATE SET body = excluded.body",
            owner.principal, owner.user, orjson.dumps(settings).decode(),
        )  # fmt: skip
