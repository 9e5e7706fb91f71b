"""The embedded store: one SQLite file in WAL mode, so several `quarry` processes can share it.

Each call opens its own connection in a worker thread: SQLite's connections are cheap, a connection is never
shared across threads, and WAL lets readers proceed while one process writes.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from quarry.conversations._models import Conversation, ConversationPatch, ConversationSummary, Owner

__all__ = ["SQLiteConversationStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    user TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (principal, user, updated_at DESC);
CREATE TABLE IF NOT EXISTS user_settings (
    principal TEXT NOT NULL,
    user TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (principal, user)
);
"""


class SQLiteConversationStore:
    """Conversations and per-user settings, every row scoped by its `Owner`."""

    def __init__(self, path: Path) -> None:
        """No I/O here: the file and its tables are created by the first call that needs them."""
        self._path = path
        self._created = False

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, timeout=10, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 10000")
        return connection

    def _create(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(_SCHEMA)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if not self._created:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            try:
                if not self._created:  # idempotent, so two first calls racing is harmless
                    self._create(db)
                    self._created = True
                return work(db)
            finally:
                db.close()

        return await asyncio.to_thread(call)

    async def list(self, owner: Owner) -> list[ConversationSummary]:
        """The owner's conversations, most recently updated first."""

        def work(db: sqlite3.Connection) -> list[bytes]:
            rows = db.execute(
                "SELECT body FROM conversations WHERE principal = ? AND user = ? ORDER BY updated_at DESC, id",
                (owner.principal, owner.user),
            )
            return [row[0] for row in rows]

        return [Conversation.model_validate_json(body).summary() for body in await self._run(work)]

    async def create(self, owner: Owner, patch: ConversationPatch, *, default_model: str) -> Conversation:
        now = int(time.time())
        blank = Conversation(
            id=f"conv_{secrets.token_hex(12)}", title="New chat", model=default_model, created_at=now, updated_at=now
        )
        conversation = blank.patched(patch, now=now)

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO conversations (id, principal, user, updated_at, body) VALUES (?, ?, ?, ?, ?)",
                (conversation.id, owner.principal, owner.user, now, conversation.model_dump_json()),
            )

        await self._run(work)
        return conversation

    async def get(self, owner: Owner, conversation_id: str) -> Conversation | None:
        def work(db: sqlite3.Connection) -> Any:
            row = db.execute(
                "SELECT body FROM conversations WHERE id = ? AND principal = ? AND user = ?",
                (conversation_id, owner.principal, owner.user),
            ).fetchone()
            return None if row is None else row[0]

        body = await self._run(work)
        return None if body is None else Conversation.model_validate_json(body)

    async def update(self, owner: Owner, conversation_id: str, patch: ConversationPatch) -> Conversation | None:
        """Apply the patch in one transaction, so two writers never lose each other's whole update."""

        def work(db: sqlite3.Connection) -> Conversation | None:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT body FROM conversations WHERE id = ? AND principal = ? AND user = ?",
                    (conversation_id, owner.principal, owner.user),
                ).fetchone()
                if row is None:
                    db.execute("ROLLBACK")
                    return None
                now = int(time.time())
                updated = Conversation.model_validate_json(row[0]).patched(patch, now=now)
                db.execute(
                    "UPDATE conversations SET updated_at = ?, body = ? WHERE id = ?",
                    (now, updated.model_dump_json(), conversation_id),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return updated

        return await self._run(work)

    async def delete(self, owner: Owner, conversation_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM conversations WHERE id = ? AND principal = ? AND user = ?",
                (conversation_id, owner.principal, owner.user),
            )
            return cursor.rowcount > 0

        return await self._run(work)

    async def get_settings(self, owner: Owner) -> dict[str, Any]:
        def work(db: sqlite3.Connection) -> Any:
            row = db.execute(
                "SELECT body FROM user_settings WHERE principal = ? AND user = ?", (owner.principal, owner.user)
            ).fetchone()
            return None if row is None else row[0]

        body = await self._run(work)
        settings: dict[str, Any] = {} if body is None else orjson.loads(body)
        return settings

    async def put_settings(self, owner: Owner, settings: dict[str, Any]) -> None:
        body = orjson.dumps(settings)

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO user_settings (principal, user, body) VALUES (?, ?, ?)"
                " ON CONFLICT (principal, user) DO UPDATE SET body = excluded.body",
                (owner.principal, owner.user, body),
            )

        await self._run(work)
