"""The Conversations API's tables (migration 9) on both databases: per key, items in order, pages both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quarry.api.responses._conversation_store import ConversationStore
from quarry.store import Database, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConversationStore]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    database: Database = await open_database(url, tmp_path)
    try:
        yield ConversationStore(database)
    finally:
        await database.close()


async def test_items_in_order_per_key_and_gone_with_their_conversation(store: ConversationStore) -> None:
    made = await store.create("key-a", "conv_t1", {"topic": "t"})
    assert await store.get("key-b", made.id) is None
    assert await store.get("key-a", made.id) == made
    await store.append(made.id, [{"id": f"msg_{n}", "n": n} for n in range(5)])
    assert [item["n"] for item in await store.items(made.id)] == [0, 1, 2, 3, 4]
    newest = await store.page(made.id, after=None, limit=2, order="desc")
    assert ([item["n"] for item in newest.items], newest.has_more) == ([4, 3], True)
    after = await store.position(made.id, "msg_3")
    older = await store.page(made.id, after=after, limit=5, order="desc")
    assert ([item["n"] for item in older.items], older.has_more) == ([2, 1, 0], False)
    later = await store.page(made.id, after=after, limit=5, order="asc")
    assert [item["n"] for item in later.items] == [4]
    assert await store.delete_item(made.id, "msg_0")
    assert await store.item(made.id, "msg_0") is None
    assert await store.item(made.id, "msg_1") == {"id": "msg_1", "n": 1}
    assert await store.update("key-b", made.id, {}) is None
    updated = await store.update("key-a", made.id, {"topic": "u"})
    assert updated is not None
    assert updated.metadata == {"topic": "u"}
    assert not await store.delete("key-b", made.id)
    assert await store.delete("key-a", made.id)
    assert await store.items(made.id) == []
