"""Many instances: two `quarry serve` processes sharing PostgreSQL (keys, usage) and Redis (limits), called with
the official clients. One per-key limit for both; a key revoked on one is refused by the other within a second;
usage survives a restart; tokens per minute hold under 50 concurrent calls spread over both; a replica SIGKILLed
mid-run loses and double-counts no usage of the calls it answered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import asyncpg
import httpx
import openai
import pytest

from tests.auth.conftest import ADMIN, Served, new_key
from tests.conftest import SDKs

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HI: list[Any] = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def pair(postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Served]]:
    env = {
        "QUARRY_API_KEY": ADMIN,
        "QUARRY_DATABASE_URL": postgres_url,
        "QUARRY_REDIS_URL": redis_url,
        "QUARRY_USAGE_FLUSH_S": "0.2",
    }
    servers = [Served(env, tmp_path_factory.mktemp(f"instance-{i}")) for i in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_two_instances_share_one_limit(pair: list[Served], sdk: SDKs) -> None:
    a, b = pair
    key = new_key(a.url, name="shared-rpm", rpm=4)
    for server in (a, b, a, b):
        assert (
            sdk.openai(f"{server.url}/v1", key)
            .chat.completions.create(model=HAIKU, messages=HI)
            .choices[0]
            .message.content
        )
    for server in (a, b):
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.openai(f"{server.url}/v1", key).chat.completions.create(model=HAIKU, messages=HI)
        assert refused.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    claude = sdk.anthropic(b.url, key)
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="claude-3-haiku-20240307", max_tokens=10, messages=HI)


def test_revoked_on_one_instance_is_refused_by_the_other_within_a_second(pair: list[Served], sdk: SDKs) -> None:
    a, b = pair
    created = httpx.post(
        f"{a.url}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}, json={"name": "to-revoke"}
    ).json()
    other = sdk.openai(f"{b.url}/v1", created["key"])
    other.models.list()  # known to, and cached by, the other instance
    httpx.delete(f"{a.url}/admin/keys/{created['id']}", headers={"Authorization": f"Bearer {ADMIN}"})
    revoked_at = time.monotonic()
    while True:
        try:
            other.models.list()
        except openai.AuthenticationError:
            break
        assert time.monotonic() - revoked_at < 1.0, "the other instance still took the revoked key"
        time.sleep(0.05)


async def test_tokens_per_minute_hold_across_instances(pair: list[Served], sdk: SDKs) -> None:
    tpm = 3000
    key = new_key(pair[0].url, name="shared-tpm", tpm=tpm)
    clients = [openai.AsyncOpenAI(base_url=f"{s.url}/v1", api_key=key, max_retries=0) for s in pair]

    async def one(i: int) -> int | None:
        try:
            answer = await clients[i % 2].chat.completions.create(
                model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": f"[[emulator: words=60]] {i}"}]
            )
        except openai.RateLimitError:
            return None
        assert answer.usage is not None
        return answer.usage.total_tokens

    results = await asyncio.gather(*(one(i) for i in range(50)))
    for client in clients:
        await client.close()
    used = [tokens for tokens in results if tokens is not None]
    assert 0 < len(used) < 50
    assert sum(used) <= tpm


def test_usage_survives_a_restart(pair: list[Served], sdk: SDKs) -> None:
    a, b = pair
    key = new_key(a.url, name="durable")
    for server in (a, b, b):
        sdk.openai(f"{server.url}/v1", key).chat.completions.create(model=HAIKU, messages=HI)
    a.stop()  # a graceful stop writes what is queued
    b.stop()
    a.start()
    b.start()
    keys = httpx.get(f"{a.url}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]
    key_id = next(k["id"] for k in keys if k["name"] == "durable")
    assert next(k for k in keys if k["id"] == key_id)["last_used_at"] is not None
    report = httpx.get(f"{a.url}/admin/usage?by=key", headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]
    assert next(row for row in report if row["key"] == key_id)["requests"] == 3


def test_toolbox_conversations_are_shared_by_instances(pair: list[Served]) -> None:
    a, b = pair
    headers = {"Authorization": f"Bearer {ADMIN}", "X-Quarry-User": "ada"}
    created = httpx.post(f"{a.url}/v1/toolbox/conversations", headers=headers, json={"title": "On A"}).json()
    seen = httpx.get(f"{b.url}/v1/toolbox/conversations/{created['id']}", headers=headers)
    assert seen.status_code == 200
    assert seen.json()["title"] == "On A"
    renamed = httpx.patch(
        f"{b.url}/v1/toolbox/conversations/{created['id']}", headers=headers, json={"title": "Then B"}
    )
    assert renamed.status_code == 200
    listed = httpx.get(f"{a.url}/v1/toolbox/conversations", headers=headers).json()
    assert "Then B" in str(listed)


def test_concurrency_limit_holds_exactly_across_instances(pair: list[Served], sdk: SDKs) -> None:
    """Three slots for the key in all: three streams open over both instances hold them all, so every other call
    to either is refused until one ends (no fourth slot anywhere, and none lost)."""
    a, b = pair
    key = new_key(a.url, name="shared-concurrency", max_concurrency=3)
    # Streams far longer than the test needs them (20 s): a loaded machine's slow calls never outlast them. They are
    # closed, not read to the end; a closed stream frees its slot.
    slow: list[Any] = [{"role": "user", "content": "[[emulator: words=400, tps=20]]"}]
    with contextlib.ExitStack() as open_streams:
        for server in (a, b, a):
            stream = open_streams.enter_context(
                sdk.openai(f"{server.url}/v1", key).chat.completions.create(model=HAIKU, messages=slow, stream=True)
            )
            first = next(iter(stream))  # admitted and flowing: its slot is held
            assert first.choices
        for server in (a, b, b, a):
            with pytest.raises(openai.RateLimitError) as refused:
                sdk.openai(f"{server.url}/v1", key).chat.completions.create(model=HAIKU, messages=HI)
            assert "3 requests at a time" in refused.value.body["message"]  # type: ignore[index]
    deadline = time.monotonic() + 30  # the slots are freed once the servers see the streams' clients gone
    for server in (b, a, b):
        while True:
            try:
                sdk.openai(f"{server.url}/v1", key).chat.completions.create(model=HAIKU, messages=HI)
                break
            except openai.RateLimitError:
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_a_knowledge_base_ingested_through_one_instance_answers_through_the_other(pair: list[Served]) -> None:
    """Knowledge bases live in the shared PostgreSQL (pgvector) when QUARRY_DATABASE_URL is one."""
    pytest.importorskip("quarry.kb")
    a, b = pair
    headers = {"Authorization": f"Bearer {ADMIN}"}
    name = "replicated-handbook"
    assert httpx.post(f"{a.url}/v1/knowledge-bases", headers=headers, json={"name": name}).status_code == 201
    leave = b"Annual leave: every employee has 27 days of annual leave a year, booked through the portal."
    uploaded = httpx.post(
        f"{a.url}/v1/knowledge-bases/{name}/documents", headers=headers, files=[("file", ("leave.md", leave))],
        timeout=60,
    )  # fmt: skip
    assert uploaded.status_code < 300, uploaded.text
    found = httpx.post(
        f"{b.url}/v1/knowledge-bases/{name}/retrieve",
        headers=headers,
        json={"retrievalQuery": {"text": "annual leave"}},
    )
    assert found.status_code == 200, found.text
    assert "27 days" in str(found.json()["retrievalResults"])


def _call(url: str, key: str, request_id: str, stream: bool) -> bool:
    """One chat call with our own request id; True when its answer arrived whole (a stream's `[DONE]` included)."""
    body = {
        "model": HAIKU,
        "stream": stream,
        "messages": [{"role": "user", "content": "[[emulator: words=8, tps=200]]"}],
    }
    headers = {"Authorization": f"Bearer {key}", "x-request-id": request_id}
    try:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30) as response:
            text = response.read().decode()
        if response.status_code != 200:
            return False
        return text.rstrip().endswith("data: [DONE]") if stream else bool(json.loads(text)["choices"])
    except (httpx.HTTPError, ValueError):
        return False


async def _usage_rows(postgres_url: str, request_ids: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(postgres_url)
    try:
        rows = await connection.fetch(
            "SELECT request_id, COUNT(*) AS n FROM usage WHERE request_id = ANY($1) GROUP BY request_id", request_ids
        )
    finally:
        await connection.close()
    return {row["request_id"]: row["n"] for row in rows}


def test_a_replica_killed_mid_run_loses_and_double_counts_no_usage(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Usage is durable with PostgreSQL: an answer's last bytes wait for its row's commit. So with one of two
    replicas SIGKILLed while several threads call both, every call answered whole has exactly one usage row."""
    env = {"QUARRY_API_KEY": ADMIN, "QUARRY_DATABASE_URL": postgres_url, "QUARRY_REDIS_URL": redis_url}
    a, b = (Served(env, tmp_path_factory.mktemp(f"killed-{i}")).start() for i in range(2))
    key = new_key(a.url, name="survives-a-kill")
    answered: dict[str, tuple[str, bool]] = {}  # request id → (replica, answered whole)
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def caller(thread: int) -> None:
        for i in range(40):
            server = (a, b)[(thread + i) % 2]
            request_id = f"kill-{thread}-{i}-{uuid.uuid4().hex}"
            whole = _call(server.url, key, request_id, stream=i % 3 == 0)
            with lock:
                answered[request_id] = (server.url, whole)
            done.release()

    try:
        threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for _ in range(120):  # a third of the 320 calls answered, the rest still to come: kill one replica now
            done.acquire()
        assert b.process is not None
        b.process.kill()
        b.process.wait(10)
        for thread in threads:
            thread.join()
    finally:
        a.stop()
    rows = asyncio.run(_usage_rows(postgres_url, list(answered)))
    whole_on_b = [rid for rid, (url, whole) in answered.items() if whole and url == b.url]
    assert whole_on_b, "the killed replica answered nothing before its kill"
    assert any(not whole for url, whole in answered.values()), "the kill cut nothing"
    assert all(n == 1 for n in rows.values()), "a call counted twice"
    lost = [rid for rid, (_, whole) in answered.items() if whole and rid not in rows]
    assert not lost, f"{len(lost)} calls answered whole have no usage row"
