"""Budgets per key over real sockets against the emulator, with the official clients: the refusal in each
dialect's envelope, the soft warning, token budgets, and the bound under 100 concurrent calls against a nearly
spent budget — on one instance (in-process ledger, SQLite), on two sharing Redis and PostgreSQL, and on two sharing
PostgreSQL alone."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.auth.conftest import ADMIN, Served, admin_post
from tests.conftest import SDKs

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HI: list[Any] = [{"role": "user", "content": "Hi"}]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    settings = Settings(backend="emulator", api_key=ADMIN, key_cache_ttl_s=0.2, usage_flush_s=0.2)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def budgeted_key(url: str, name: str, **budgets: float) -> tuple[str, str]:
    """(key id, secret) of a new key with these budgets."""
    created = admin_post(url, "/admin/keys", {"name": name, "budgets": budgets})
    assert created["budgets"] == budgets
    return created["id"], created["key"]


def shown(url: str, key_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/admin/keys/{key_id}", headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_spent_budget_is_refused_in_each_dialect(gateway: str, sdk: SDKs) -> None:
    key_id, key = budgeted_key(gateway, "tiny", usd_day=0.0001)
    client = sdk.openai(f"{gateway}/v1", key)
    # Each call may cost up to its input and max_tokens priced: 1000 output tokens of Haiku is 0.00125 USD.
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI)
    error = refused.value
    assert error.code == "insufficient_quota"
    assert error.type == "insufficient_quota"
    assert "$0.0001 per day" in error.message
    assert "resets at" in error.message
    headers = error.response.headers
    assert headers["x-quarry-budget"] == "usd_day"
    assert headers["x-should-retry"] == "false"
    assert headers["x-quarry-budget-reset"].endswith("T00:00:00Z")
    assert 0 < int(headers["retry-after"]) <= 86400
    with pytest.raises(anthropic.RateLimitError) as claude_refused:
        sdk.anthropic(gateway, key).messages.create(model="claude-3-haiku-20240307", max_tokens=1000, messages=HI)
    assert claude_refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "budget" in claude_refused.value.message
    # A call small enough to fit is served.
    assert client.chat.completions.create(model=HAIKU, max_tokens=20, messages=HI).choices[0].message.content
    budget = shown(gateway, key_id)["budgets"][0]
    assert budget["budget"] == "usd_day"
    assert 0 < budget["spent"] <= 0.0001
    assert budget["reserved"] == 0


def test_soft_threshold_warns(gateway: str, sdk: SDKs) -> None:
    _, key = budgeted_key(gateway, "warned", usd_day=0.001)
    raw = sdk.openai(f"{gateway}/v1", key).chat.completions.with_raw_response.create(
        model=HAIKU, max_tokens=20, messages=HI
    )
    assert "x-quarry-budget-warning" not in raw.headers
    assert raw.headers["x-quarry-budget-remaining"].startswith("usd_day=")
    raw = sdk.openai(f"{gateway}/v1", key).chat.completions.with_raw_response.create(
        model=HAIKU,
        max_tokens=700,
        messages=HI,  # up to 0.000875 USD: past 80% of the budget
    )
    assert raw.headers["x-quarry-budget-warning"].startswith("usd_day: ")
    metrics = httpx.get(f"{gateway}/metrics").text
    assert 'quarry_budget_warnings_total{kind="usd",period="day"}' in metrics


def test_token_budget(gateway: str, sdk: SDKs) -> None:
    key_id, key = budgeted_key(gateway, "tokens", tokens_month=300)
    client = sdk.openai(f"{gateway}/v1", key)
    answer = client.chat.completions.create(model=HAIKU, max_tokens=100, messages=HI)
    assert answer.usage is not None
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=HAIKU, max_tokens=300, messages=HI)
    assert refused.value.response.headers["x-quarry-budget"] == "tokens_month"
    assert shown(gateway, key_id)["budgets"][0]["spent"] == answer.usage.total_tokens


def test_models_without_a_price_are_refused_under_a_usd_budget(gateway: str, sdk: SDKs) -> None:
    _, key = budgeted_key(gateway, "unpriced", usd_month=10)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.openai(f"{gateway}/v1", key).chat.completions.create(
            model="meta.llama3-8b-instruct-v1:0", max_tokens=10, messages=HI
        )
    assert refused.value.code == "model_not_priced"


def test_budgets_are_replaced_through_the_admin_api(gateway: str, sdk: SDKs) -> None:
    key_id, key = budgeted_key(gateway, "raised", usd_day=0.0001)
    client = sdk.openai(f"{gateway}/v1", key)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI)
    response = httpx.put(
        f"{gateway}/admin/keys/{key_id}/budgets", json={"budgets": {"usd_week": 1}}, headers=ADMIN_HEADERS
    )
    assert response.status_code == 200, response.text
    assert [b["budget"] for b in response.json()["budgets"]] == ["usd_week"]
    assert client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI).choices
    bad = httpx.put(f"{gateway}/admin/keys/{key_id}/budgets", json={"budgets": {"usd_year": 1}}, headers=ADMIN_HEADERS)
    assert bad.status_code == 400
    assert "usd_year" in bad.json()["error"]["message"]


async def hammer(urls: list[str], key: str, calls: int) -> tuple[list[float], int]:
    """`calls` concurrent chat calls spread over `urls`: (the maxima of the admitted ones, how many were refused)."""
    clients = [openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120) for url in urls]

    async def one(i: int) -> float | str:
        try:
            raw = await clients[i % len(clients)].chat.completions.with_raw_response.create(
                model=HAIKU, max_tokens=120, messages=[{"role": "user", "content": f"[[emulator: words=60]] {i}"}]
            )
        except openai.RateLimitError as refused:
            return str(refused.code)
        return float(raw.headers["x-quarry-cost-max-usd"])

    try:
        results = await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        for client in clients:
            await client.close()
    admitted = [most for most in results if isinstance(most, float)]
    assert {refusal for refusal in results if isinstance(refusal, str)} <= {"insufficient_quota"}
    return admitted, calls - len(admitted)


def spent(url: str, key_id: str) -> float:
    """What the key's usage records say it spent (the admin API writes what is queued first)."""
    report = httpx.get(f"{url}/admin/usage?by=key", headers=ADMIN_HEADERS).json()["data"]
    return float(next(row for row in report if row["key"] == key_id)["cost_usd"])


def settled(url: str, key_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        budget: dict[str, Any] = shown(url, key_id)["budgets"][0]
        if budget["reserved"] == 0 or time.monotonic() > deadline:
            return budget
        time.sleep(0.1)


def nearly_spend(url: str, key: str, client: Any) -> None:
    """Calls until less than ten calls' maximum is left."""
    for _ in range(200):
        raw = client.chat.completions.with_raw_response.create(
            model=HAIKU, max_tokens=120, messages=[{"role": "user", "content": "[[emulator: words=60]] warm up"}]
        )
        remaining = float(raw.headers["x-quarry-budget-remaining"].partition("=")[2])
        if remaining < 10 * float(raw.headers["x-quarry-cost-max-usd"]):
            return
    raise AssertionError("the budget was not nearly spent")


async def test_100_concurrent_calls_never_overspend_one_instance(gateway: str, sdk: SDKs) -> None:
    budget = 0.005
    key_id, key = budgeted_key(gateway, "hammered", usd_day=budget)
    nearly_spend(gateway, key, sdk.openai(f"{gateway}/v1", key))
    admitted, refused = await hammer([gateway], key, 100)
    assert admitted
    assert refused > 0
    state = settled(gateway, key_id)
    assert state["reserved"] == 0
    assert spent(gateway, key_id) <= budget + max(admitted)
    assert state["spent"] == pytest.approx(spent(gateway, key_id), abs=1e-9)


@pytest.fixture(scope="module", params=["redis", "postgresql"])
def pair(
    request: pytest.FixtureRequest, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Served]]:
    """Two replicas sharing one PostgreSQL, their budgets held in Redis (RedisLedger) or, with no Redis, in
    PostgreSQL itself (PostgresLedger)."""
    env = {
        "QUARRY_API_KEY": ADMIN,
        "QUARRY_DATABASE_URL": postgres_url,
        "QUARRY_USAGE_FLUSH_S": "0.2",
        "QUARRY_ACCESS_LOG": "false",
        "QUARRY_UI__ENABLED": "false",  # no Gradio to import: two servers start sooner on a busy machine
    }
    if request.param == "redis":
        env["QUARRY_REDIS_URL"] = request.getfixturevalue("redis_url")
    servers = [Served(env, tmp_path_factory.mktemp(f"budget-{request.param}-{i}")) for i in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


async def test_100_concurrent_calls_never_overspend_two_instances(pair: list[Served], sdk: SDKs) -> None:
    a, b = pair
    budget = 0.005
    key_id, key = budgeted_key(a.url, "hammered-shared", usd_day=budget)
    nearly_spend(a.url, key, sdk.openai(f"{b.url}/v1", key))
    admitted, refused = await hammer([a.url, b.url], key, 100)
    assert admitted
    assert refused > 0
    for server in pair:
        assert settled(server.url, key_id)["reserved"] == 0
    total = spent(a.url, key_id)
    assert total == pytest.approx(spent(b.url, key_id))  # one database
    assert total <= budget + max(admitted)
    # Both replicas read one ledger: the window each shows is what the usage records say was spent.
    assert settled(a.url, key_id)["spent"] == pytest.approx(total, abs=1e-9)
    assert settled(b.url, key_id)["spent"] == pytest.approx(total, abs=1e-9)


def quarry_cli(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "QUARRY_DATA_DIR": str(data_dir)}
    quarry = str(Path(sys.executable).with_name("quarry"))
    return subprocess.run([quarry, *args], env=env, capture_output=True, check=True, text=True).stdout


def test_cli_makes_shows_and_changes_budgets(gateway: str, data_dir: Path, sdk: SDKs) -> None:
    created = json.loads(
        quarry_cli(
            data_dir,
            "keys",
            "create",
            "--name",
            "cli-budget",
            "--budget-usd-day",
            "0.0002",
            "--budget-tokens-month",
            "100000",
            "--budget-soft",
            "0.5",
            "--json",
        )
    )
    assert created["budgets"] == {"usd_day": 0.0002, "tokens_month": 100000}
    client = sdk.openai(f"{gateway}/v1", created["key"])
    assert client.chat.completions.create(model=HAIKU, max_tokens=20, messages=HI).choices
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI)
    httpx.get(f"{gateway}/admin/usage", headers=ADMIN_HEADERS)  # the server writes what it has queued
    shown_json = json.loads(quarry_cli(data_dir, "keys", "show", created["id"], "--json"))
    spent = {b["budget"]: b["spent"] for b in shown_json["budgets"]}
    assert 0 < spent["usd_day"] <= 0.0002
    assert spent["tokens_month"] > 0
    table = quarry_cli(data_dir, "keys", "show", created["id"])
    assert "usd_day" in table
    assert "resets" in table
    assert "warns at 50%" in table
    quarry_cli(data_dir, "keys", "budget", created["id"], "--usd-day", "1", "--remove", "tokens_month")
    time.sleep(0.3)  # the server's budget cache (key_cache_ttl_s)
    assert client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI).choices
    assert [b["budget"] for b in shown(gateway, created["id"])["budgets"]] == ["usd_day"]
