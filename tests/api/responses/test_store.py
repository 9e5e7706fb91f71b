"""The stored-responses table on both databases: saved and read per key, advanced only while unfinished, sealed
reasoning and every item kept by id and deleted with their response, expired ones unseen and then swept with them,
background responses whose heartbeat stopped failed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quarry.api.responses._store import ResponseStore, Stored
from quarry.store import Database, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ResponseStore]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    database: Database = await open_database(url, tmp_path)
    try:
        yield ResponseStore(database)
    finally:
        await database.close()


def _body(status: str, *, reasoning: bool = False) -> dict[str, Any]:
    output = [{"id": f"rs_{secrets.token_hex(8)}", "type": "reasoning", "encrypted_content": "q1sealed"}]
    return {"id": f"resp_{secrets.token_hex(8)}", "status": status, "output": output if reasoning else []}


async def test_saved_per_key_and_deleted_with_its_reasoning(store: ResponseStore) -> None:
    body = _body("completed", reasoning=True)
    await store.save("key-a", Stored(body, [{"id": "msg_1"}]), ttl_s=60)
    assert await store.get("key-b", body["id"]) is None
    stored = await store.get("key-a", body["id"])
    assert stored is not None
    assert stored.input_items == [{"id": "msg_1"}]
    item_id = body["output"][0]["id"]
    assert await store.reasoning("key-a", [item_id, "rs_other"]) == {item_id: "q1sealed"}
    assert await store.reasoning("key-b", [item_id]) == {}
    assert not await store.delete("key-b", body["id"])
    assert await store.delete("key-a", body["id"])
    assert await store.reasoning("key-a", [item_id]) == {}


async def test_an_expired_response_is_unseen_then_swept_with_its_items_and_reasoning(store: ResponseStore) -> None:
    body = _body("completed", reasoning=True)
    given = {"id": f"msg_{secrets.token_hex(8)}", "type": "message", "role": "user", "content": "Hi"}
    reasoning = body["output"][0]["id"]
    await store.save("key-a", Stored(body, [given]), ttl_s=-10)  # expired as it is saved, swept at the next save
    assert await store.get("key-a", body["id"]) is None
    assert await store.chain("key-a", body["id"]) is None
    assert await store.items("key-a", [given["id"], reasoning]) == {}
    assert await store.reasoning("key-a", [reasoning]) == {}
    database: Any = store._db
    tables = {"responses": "id", "response_items": "response_id", "response_reasoning": "response_id"}
    for table, column in tables.items():  # unseen, not yet gone
        assert await database.fetch(f"SELECT 1 AS n FROM {table} WHERE {column} = ?", body["id"]) != []
    kept = _body("completed")
    await store.save("key-a", Stored(kept, []), ttl_s=60)
    for table, column in tables.items():
        assert await database.fetch(f"SELECT 1 AS n FROM {table} WHERE {column} = ?", body["id"]) == []
    assert await store.get("key-a", kept["id"]) is not None


async def test_items_by_id_per_key_the_first_kept_wins_and_deleted_with_their_response(store: ResponseStore) -> None:
    body = _body("completed", reasoning=True)
    given = {"id": "msg_mine", "type": "message", "role": "user", "content": "Hi"}
    await store.save("key-a", Stored(body, [given, {"id": "ref_1", "type": "item_reference"}]), ttl_s=60)
    # Another response of the same key replaying the same client id, and another key's item of that id.
    await store.save("key-a", Stored(_body("completed"), [{**given, "content": "Other"}]), ttl_s=60)
    await store.save("key-b", Stored(_body("completed"), [{**given, "content": "B's"}]), ttl_s=60)
    output_id = body["output"][0]["id"]
    found = await store.items("key-a", ["msg_mine", output_id, "ref_1", "msg_other"])
    assert found == {"msg_mine": given, output_id: body["output"][0]}  # references are not items of their own
    assert (await store.items("key-b", ["msg_mine", output_id])) == {"msg_mine": {**given, "content": "B's"}}
    assert await store.delete("key-a", body["id"])
    assert await store.items("key-a", ["msg_mine", output_id]) == {}


async def test_only_unfinished_responses_advance_and_restarts_fail_them(store: ResponseStore) -> None:
    queued, running = _body("queued"), _body("in_progress")
    for body in (queued, running):
        await store.save("key-a", Stored(body, []), ttl_s=60)
    assert await store.advance({**queued, "status": "cancelled"})
    assert not await store.advance({**queued, "status": "completed"})  # the cancel stands
    assert await store.fail_abandoned() == 0  # beating just now: an instance may be running it
    assert (await store.get("key-a", running["id"])).body["status"] == "in_progress"  # type: ignore[union-attr]
    assert await store.fail_abandoned(stale_s=-1) >= 1  # silent: no instance runs it
    failed = await store.get("key-a", running["id"])
    assert failed is not None
    assert failed.body["status"] == "failed"
    assert failed.body["error"]["code"] == "server_error"
    assert "stopped" in failed.body["error"]["message"]
    cancelled = await store.get("key-a", queued["id"])
    assert cancelled is not None
    assert cancelled.body["status"] == "cancelled"


async def test_a_silent_unfinished_response_reads_as_failed(store: ResponseStore) -> None:
    body = _body("in_progress")
    await store.save("key-a", Stored(body, []), ttl_s=60)
    database: Any = store._db  # the test stops the heartbeat by ageing it
    await database.execute("UPDATE responses SET heartbeat_at = 0 WHERE id = ?", body["id"])
    read = await store.get("key-a", body["id"])
    assert read is not None
    assert read.body["status"] == "failed"
    again = await store.get("key-a", body["id"])
    assert again is not None
    assert again.body["status"] == "failed"  # and stored so


async def test_a_chain_is_read_back_oldest_first_and_per_key(store: ResponseStore) -> None:
    first = _body("completed") | {"output": [{"id": "msg_a"}]}
    second = _body("completed") | {"output": [{"id": "msg_b"}], "previous_response_id": first["id"]}
    third = _body("completed") | {"output": [{"id": "msg_c"}], "previous_response_id": second["id"]}
    for n, body in enumerate((first, second, third)):
        await store.save("key-a", Stored(body, [{"id": f"in_{n}"}]), ttl_s=60)
    chain = await store.chain("key-a", third["id"])
    assert chain is not None
    assert [item["id"] for item in chain] == ["in_0", "msg_a", "in_1", "msg_b", "in_2", "msg_c"]
    assert await store.chain("key-b", third["id"]) is None
    assert await store.chain("key-a", "resp_missing") is None
    await store.delete("key-a", first["id"])
    shortened = await store.chain("key-a", third["id"])
    assert shortened is not None
    assert [item["id"] for item in shortened] == ["in_1", "msg_b", "in_2", "msg_c"]
