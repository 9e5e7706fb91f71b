"""Both store backends keep who owns each knowledge base and whom it is shared with, beside its config; a knowledge
base made before owners were recorded is the admin's (owner None)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from quarry.kb import Grant, KnowledgeBaseConfig, Ownership
from quarry.kb._postgres_store import PostgresBackend
from quarry.kb._sqlite_store import SQLiteBackend
from quarry.kb._store import StoreBackend
from quarry.store import MIGRATIONS, PostgresDatabase

from .conftest import fresh_database

CONFIG = KnowledgeBaseConfig(name="notes", dimensions=8, created_at=5.0)


async def ownership(backend: StoreBackend, name: str) -> Ownership:
    entry = await backend.registered(name)
    assert entry is not None
    return entry.ownership


async def test_the_owner_and_sharing_are_kept_and_replaced(backend: StoreBackend) -> None:
    await backend.create(CONFIG, Ownership(owner="key:key_a"))
    managed = KnowledgeBaseConfig(name="managed", kind="bedrock", knowledge_base_id="ABCDEFGHIJ")
    await backend.create(managed, Ownership(owner="user:u:ada", shared_with=(Grant("*"),)))
    await backend.create(KnowledgeBaseConfig(name="admins", dimensions=8))  # no ownership: the admin's
    entry = await backend.registered("notes")
    assert entry is not None
    assert (entry.config, entry.owner, entry.shared_with) == (CONFIG, "key:key_a", ())
    shared = Ownership(owner="key:key_a", shared_with=(Grant("key:key_b"), Grant("user:u:ada")))
    assert await backend.set_ownership("notes", shared) is True
    assert await ownership(backend, "notes") == shared
    assert await ownership(backend, "managed") == Ownership("user:u:ada", (Grant("*"),))
    assert await ownership(backend, "admins") == Ownership()
    await backend.open("notes")  # an open store does not hide a change made since
    assert await backend.set_ownership("notes", Ownership(owner=None)) is True
    assert await ownership(backend, "notes") == Ownership()
    assert await backend.set_ownership("nowhere", shared) is False
    assert await backend.registered("nowhere") is None
    assert await backend.drop("notes")
    assert await backend.registered("notes") is None


async def test_a_sqlite_file_made_before_owners_is_the_admins(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "kb")
    try:
        await backend.create(CONFIG, Ownership(owner="key:key_a", shared_with=(Grant("*"),)))
        with sqlite3.connect(tmp_path / "kb" / "notes.sqlite") as db:
            db.execute("DELETE FROM meta WHERE key = 'ownership'")  # as every file made before this release
        entry = await backend.registered("notes")
        assert entry is not None
        assert (entry.config, entry.ownership) == (CONFIG, Ownership())
    finally:
        await backend.close()


async def test_a_postgres_register_made_before_owners_is_migrated_to_the_admin(postgres_url: str) -> None:
    url = await fresh_database(postgres_url)
    database = await PostgresDatabase.open(url)
    try:
        await database.migrate(MIGRATIONS[:3])  # the register as the release before owners made it
    finally:
        await database.close()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO quarry_knowledge_bases VALUES ($1, $2, $3)",
            "old", '{"name": "old", "kind": "bedrock", "knowledge_base_id": "ABCDEFGHIJ"}', 1.0,
        )  # fmt: skip
    finally:
        await connection.close()
    backend = PostgresBackend(url)
    try:
        entry = await backend.registered("old")  # opening the backend applies the migrations left
        assert entry is not None
        assert (entry.name, entry.config.knowledge_base_id, entry.ownership) == ("old", "ABCDEFGHIJ", Ownership())
    finally:
        await backend.close()
