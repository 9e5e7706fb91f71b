"""Team keys on one instance (SQLite, in-process limits): the admin API and CLI make them, scopes and limits hold
for the official openai and anthropic clients, revocation takes effect, usage is recorded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.auth.conftest import ADMIN, new_key
from tests.conftest import SDKs, ServerThread

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HI: list[Any] = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    settings = Settings(backend="emulator", api_key=ADMIN, key_cache_ttl_s=0.2, usage_flush_s=0.2)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def test_admin_api_makes_keys_shown_once(gateway: str, sdk: SDKs) -> None:
    response = httpx.post(
        f"{gateway}/admin/keys",
        headers={"Authorization": f"Bearer {ADMIN}"},
        json={"name": "alice", "models": ["anthropic.*"], "rpm": 100},
    )
    assert response.status_code == 201
    created = response.json()
    assert created["key"].startswith("qk-")
    assert created["id"].startswith("key_")
    listed = httpx.get(f"{gateway}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine
    assert created["key"] not in json.dumps(listed)  # the secret is never shown again
    assert mine["prefix"] == created["key"][:10]
    answer = sdk.openai(f"{gateway}/v1", created["key"]).chat.completions.create(model=HAIKU, messages=HI)
    assert answer.choices[0].message.content


def test_admin_api_is_for_the_admin_key_only(gateway: str, sdk: SDKs) -> None:
    key = new_key(gateway, name="not-admin")
    response = httpx.get(f"{gateway}/admin/keys", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert httpx.get(f"{gateway}/admin/keys").status_code == 401
    bad = httpx.post(
        f"{gateway}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}, json={"name": "x", "rpm": 0}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "rpm"


def test_model_scopes_in_both_dialects(gateway: str, sdk: SDKs) -> None:
    key = new_key(gateway, name="claude-only", models=["anthropic.claude-3-haiku*", "us.anthropic.*"])
    assert sdk.openai(f"{gateway}/v1", key).chat.completions.create(model=HAIKU, messages=HI).choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.openai(f"{gateway}/v1", key).chat.completions.create(model="amazon.nova-lite-v1:0", messages=HI)
    assert refused.value.body["code"] == "model_not_allowed"  # type: ignore[index]
    claude = sdk.anthropic(gateway, key)
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        claude.messages.create(model="amazon.nova-pro-v1:0", max_tokens=10, messages=HI)
    assert denied.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    visible = {model.id for model in sdk.openai(f"{gateway}/v1", key).models.list()}
    assert HAIKU in visible
    assert "amazon.nova-lite-v1:0" not in visible


def test_revoked_key_is_refused_within_a_second(gateway: str, sdk: SDKs) -> None:
    created = httpx.post(
        f"{gateway}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}, json={"name": "leaving"}
    ).json()
    client = sdk.openai(f"{gateway}/v1", created["key"])
    client.models.list()
    revoked = httpx.delete(f"{gateway}/admin/keys/{created['id']}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert revoked.json()["revoked_at"] is not None
    deadline = time.monotonic() + 1.0
    refusal: openai.AuthenticationError | None = None
    while refusal is None:
        try:
            client.models.list()
        except openai.AuthenticationError as exc:
            refusal = exc
        assert time.monotonic() < deadline, "the revoked key still worked after a second"
        time.sleep(0.05)
    assert refusal.body["code"] == "revoked_api_key"  # type: ignore[index]


def test_unknown_and_expired_keys(gateway: str, sdk: SDKs) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk.openai(f"{gateway}/v1", "qk-not-a-real-key").models.list()
    ends = time.time() + 2
    key = new_key(gateway, name="short-lived", expires=datetime.fromtimestamp(ends, UTC).isoformat())
    sdk.openai(f"{gateway}/v1", key).models.list()
    time.sleep(max(0.0, ends - time.time()) + 0.1)
    with pytest.raises(openai.AuthenticationError) as expired:
        sdk.openai(f"{gateway}/v1", key).models.list()
    assert expired.value.body["code"] == "expired_api_key"  # type: ignore[index]


def test_requests_per_minute_in_both_dialects(gateway: str, sdk: SDKs) -> None:
    key = new_key(gateway, name="rpm", rpm=3)
    client = sdk.openai(f"{gateway}/v1", key)
    remaining = []
    for _ in range(3):
        response = client.chat.completions.with_raw_response.create(model=HAIKU, messages=HI)
        remaining.append(int(response.headers["x-ratelimit-remaining-requests"]))
        assert response.headers["x-ratelimit-limit-requests"] == "3"
    assert remaining == [2, 1, 0]
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=HAIKU, messages=HI)
    headers = refused.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert "3 requests per minute" in refused.value.body["message"]  # type: ignore[index]
    claude = sdk.anthropic(gateway, key)
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model="claude-3-haiku-20240307", max_tokens=10, messages=HI)
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert int(limited.value.response.headers["retry-after"]) >= 1


def test_concurrency_limit(gateway: str, sdk: SDKs) -> None:
    key = new_key(gateway, name="one-at-a-time", max_concurrency=1)
    client = sdk.openai(f"{gateway}/v1", key)
    slow: list[Any] = [{"role": "user", "content": "[[emulator: words=30, tps=60]]"}]
    with client.chat.completions.create(model=HAIKU, messages=slow, stream=True) as stream:
        next(iter(stream))
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model=HAIKU, messages=HI)
        assert "1 requests at a time" in refused.value.body["message"]  # type: ignore[index]
        list(stream)
    deadline = time.monotonic() + 2  # the slot is freed just after the stream's last byte
    while True:
        try:
            client.chat.completions.create(model=HAIKU, messages=HI)
            break
        except openai.RateLimitError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


async def test_tokens_per_minute_hold_under_50_concurrent_requests(gateway: str, sdk: SDKs) -> None:
    tpm = 3000
    key = new_key(gateway, name="tpm", tpm=tpm)
    client = openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0)

    async def one(i: int) -> int | None:
        try:
            answer = await client.chat.completions.create(
                model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": f"[[emulator: words=60]] call {i}"}]
            )
        except openai.RateLimitError:
            return None
        assert answer.usage is not None
        return answer.usage.total_tokens

    async with client:
        results = await asyncio.gather(*(one(i) for i in range(50)))
    used = [tokens for tokens in results if tokens is not None]
    assert 0 < len(used) < 50
    assert sum(used) <= tpm  # every admitted call reserved at least what it used


def test_usage_is_recorded_and_reported(gateway: str, data_dir: Path, sdk: SDKs) -> None:
    key = new_key(gateway, name="reporting")
    client = sdk.openai(f"{gateway}/v1", key)
    answers = [client.chat.completions.create(model=HAIKU, messages=HI) for _ in range(2)]
    claude = sdk.anthropic(gateway, key)
    with claude.messages.stream(model="claude-3-haiku-20240307", max_tokens=50, messages=HI) as stream:
        streamed = stream.get_final_message().usage
    key_id = next(
        k["id"]
        for k in httpx.get(f"{gateway}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]
        if k["name"] == "reporting"
    )
    report = httpx.get(f"{gateway}/admin/usage?by=key", headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]
    mine = next(row for row in report if row["key"] == key_id)
    assert mine["requests"] == 3
    assert mine["output_tokens"] == sum(a.usage.completion_tokens for a in answers if a.usage) + streamed.output_tokens
    assert mine["errors"] == 0
    # The CLI reads the same database, from another process.
    env = {**os.environ, "QUARRY_DATA_DIR": str(data_dir)}
    quarry = str(Path(sys.executable).with_name("quarry"))
    printed = subprocess.run([quarry, "usage", "--by", "key", "--json"], env=env, capture_output=True, check=True)
    assert next(row for row in json.loads(printed.stdout) if row["key"] == key_id)["requests"] == 3


def test_cli_keys_work_against_the_running_server(gateway: str, data_dir: Path, sdk: SDKs) -> None:
    env = {**os.environ, "QUARRY_DATA_DIR": str(data_dir)}
    quarry = str(Path(sys.executable).with_name("quarry"))
    made = subprocess.run(
        [
            quarry,
            "keys",
            "create",
            "--name",
            "from-cli",
            "--rpm",
            "9",
            "--json",
            "--models",
            "anthropic.*,us.anthropic.*",
        ],
        env=env,
        capture_output=True,
        check=True,
    )
    created = json.loads(made.stdout)
    assert {"id", "name", "key"} <= created.keys()
    assert created["models"] == ["anthropic.*", "us.anthropic.*"]
    response = sdk.openai(f"{gateway}/v1", created["key"]).chat.completions.with_raw_response.create(
        model=HAIKU, messages=HI
    )
    assert response.headers["x-ratelimit-limit-requests"] == "9"
    listed = subprocess.run([quarry, "keys", "ls"], env=env, capture_output=True, check=True, text=True).stdout
    assert "from-cli" in listed
    assert created["key"] not in listed
    subprocess.run([quarry, "keys", "revoke", created["id"]], env=env, check=True, capture_output=True)
    time.sleep(0.3)  # past the key cache's 0.2 s
    with pytest.raises(openai.AuthenticationError):
        sdk.openai(f"{gateway}/v1", created["key"]).models.list()
    bad = subprocess.run([quarry, "keys", "revoke", "key_nope"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "No API key with id" in bad.stderr


def test_limits_that_cannot_be_checked_are_not_waved_through(sdk: SDKs) -> None:
    settings = Settings(backend="emulator", api_key=ADMIN, redis_url="redis://127.0.0.1:9/0")  # type: ignore[arg-type]
    with ServerThread(create_app(settings), lifespan="on") as server:
        key = new_key(server.url, name="redis-down", rpm=10)
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.openai(f"{server.url}/v1", key).chat.completions.create(model=HAIKU, messages=HI)
        assert caught.value.status_code == 503
        assert "Redis" in caught.value.body["message"]  # type: ignore[index]
        unlimited = new_key(server.url, name="no-limits")  # keys without limits never ask Redis
        assert sdk.openai(f"{server.url}/v1", unlimited).chat.completions.create(model=HAIKU, messages=HI).choices
