"""Team budgets over real sockets against the emulator, with the official clients: a key's calls count against its
team's budgets beside its own, the refusal names the team's budget, the team's spending is its keys' (seeded from
the usage records on a new server), and the admin API and the CLI set teams and their budgets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.auth.conftest import ADMIN, admin_post
from tests.auth.test_budgets import quarry_cli
from tests.conftest import SDKs

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HI: list[Any] = [{"role": "user", "content": "Hi"}]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def _settings() -> Settings:
    return Settings(backend="emulator", api_key=ADMIN, key_cache_ttl_s=0.2, usage_flush_s=0.2)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    url: str = serve(create_app(_settings()), lifespan="on").url
    return url


def admin(method: str, url: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
    response = httpx.request(method, f"{url}{path}", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == status, response.text
    return response.json()


def settled_team(url: str, team: str) -> dict[str, Any]:
    """The team as the admin API shows it once no call of its keys holds a reservation."""
    deadline = time.monotonic() + 10
    while True:
        shown: dict[str, Any] = admin("GET", url, f"/admin/teams/{team}/budgets")
        if all(b["reserved"] == 0 for b in shown["budgets"]) or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def test_a_team_budget_holds_every_key_of_the_team(gateway: str, serve: Any, sdk: SDKs) -> None:
    shown = admin("PUT", gateway, "/admin/teams/ops/budgets", {"budgets": {"usd_day": 0.001}})
    assert [b["budget"] for b in shown["budgets"]] == ["usd_day"]
    first = admin_post(gateway, "/admin/keys", {"name": "ops-1", "team": "ops"})
    assert first["team"] == "ops"
    second = admin_post(gateway, "/admin/keys", {"name": "ops-2"})
    moved = admin("PUT", gateway, f"/admin/keys/{second['id']}/team", {"team": "ops"})
    assert moved["team"] == "ops"

    # Neither key has a budget of its own: the team's holds them both.
    raw = sdk.openai(f"{gateway}/v1", first["key"]).chat.completions.with_raw_response.create(
        model=HAIKU, max_tokens=20, messages=HI
    )
    assert "team:ops/usd_day=" in raw.headers["x-quarry-budget-remaining"]
    with pytest.raises(openai.RateLimitError) as refused:  # 1000 output tokens may cost $0.00125
        sdk.openai(f"{gateway}/v1", second["key"]).chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI)
    assert refused.value.code == "insufficient_quota"
    assert "of this API key's team, ops," in refused.value.message
    assert refused.value.response.headers["x-quarry-budget"] == "team:ops/usd_day"
    assert refused.value.response.headers["x-quarry-budget-reset"].endswith("T00:00:00Z")

    team = settled_team(gateway, "ops")
    assert sorted(team["keys"]) == sorted([first["id"], second["id"]])
    spent = team["budgets"][0]["spent"]
    assert spent > 0
    listed = admin("GET", gateway, "/admin/teams")["data"]
    assert [t["team"] for t in listed if t["team"] == "ops"] == ["ops"]

    # A new server (as after a restart) starts the team's window from its keys' usage records.
    httpx.get(f"{gateway}/admin/usage", headers=ADMIN_HEADERS)  # what is queued is written first
    restarted: str = serve(create_app(_settings()), lifespan="on").url
    assert settled_team(restarted, "ops")["budgets"][0]["spent"] == pytest.approx(spent, abs=1e-9)

    # Out of the team, the second key has no budget at all.
    assert admin("PUT", gateway, f"/admin/keys/{second['id']}/team", {"team": None})["team"] is None
    assert (
        sdk.openai(f"{gateway}/v1", second["key"])
        .chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI)
        .choices
    )


def test_team_names_are_checked(gateway: str) -> None:
    bad = admin("PUT", gateway, "/admin/teams/a%20b/budgets", {"budgets": {"usd_day": 1}}, status=400)
    assert "team" in bad["error"]["message"]
    made = httpx.post(f"{gateway}/admin/keys", json={"name": "x", "team": "no/slash"}, headers=ADMIN_HEADERS)
    assert made.status_code == 400


def test_cli_sets_teams_and_their_budgets(gateway: str, data_dir: Path, sdk: SDKs) -> None:
    quarry_cli(data_dir, "teams", "budget", "research", "--usd-day", "0.0001", "--tokens-month", "100000")
    created = json.loads(quarry_cli(data_dir, "keys", "create", "--name", "r-1", "--team", "research", "--json"))
    assert created["team"] == "research"
    client = sdk.openai(f"{gateway}/v1", created["key"])
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI)
    assert refused.value.response.headers["x-quarry-budget"] == "team:research/usd_day"

    shown = json.loads(quarry_cli(data_dir, "teams", "show", "research", "--json"))
    assert shown["keys"] == [f"{created['id']} (r-1)"]
    assert {b["budget"]: b["amount"] for b in shown["budgets"]} == {"tokens_month": 100000, "usd_day": 0.0001}
    assert "research" in quarry_cli(data_dir, "teams", "ls")
    assert "team: research" in quarry_cli(data_dir, "keys", "show", created["id"])

    quarry_cli(data_dir, "teams", "budget", "research", "--remove", "usd_day")
    assert "usd_day" not in quarry_cli(data_dir, "teams", "show", "research")
    assert "team: none" in quarry_cli(data_dir, "keys", "team", created["id"], "--remove")
    deadline = time.monotonic() + 10
    while True:  # servers read a key's team and budgets again within key_cache_ttl_s
        try:
            assert client.chat.completions.create(model=HAIKU, max_tokens=1000, messages=HI).choices
            break
        except openai.RateLimitError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
