"""Every call's cost: a header on whole answers, the maximum on every admitted call, the usage record (admin API and
CLI) and the Prometheus series, all from the price table and the tokens Bedrock reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.auth.conftest import ADMIN, new_key
from tests.conftest import SDKs

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # 0.25 in, 1.25 out per million in the shipped table
HI: list[Any] = [{"role": "user", "content": "Hi"}]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def haiku_usd(input_tokens: int, output_tokens: int) -> float:
    return (input_tokens * 0.25 + output_tokens * 1.25) / 1_000_000


@pytest.fixture(scope="module")
def gateway(serve: Any, data_dir: Path) -> str:
    settings = Settings(backend="emulator", api_key=ADMIN, key_cache_ttl_s=0.2, usage_flush_s=0.2)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def test_whole_answers_carry_their_cost(gateway: str, sdk: SDKs) -> None:
    key = new_key(gateway, name="cost-header")
    raw = sdk.openai(f"{gateway}/v1", key).chat.completions.with_raw_response.create(
        model=HAIKU, max_tokens=50, messages=HI
    )
    answer = raw.parse()
    assert answer.usage is not None
    cost = float(raw.headers["x-quarry-cost-usd"])
    assert cost == pytest.approx(haiku_usd(answer.usage.prompt_tokens, answer.usage.completion_tokens), abs=1e-6)
    assert float(raw.headers["x-quarry-cost-max-usd"]) >= cost
    claude = sdk.anthropic(gateway, key).messages.with_raw_response.create(
        model="claude-3-haiku-20240307", max_tokens=50, messages=HI
    )
    usage = claude.parse().usage
    assert float(claude.headers["x-quarry-cost-usd"]) == pytest.approx(
        haiku_usd(usage.input_tokens, usage.output_tokens), abs=1e-6
    )


def test_streams_carry_only_the_maximum(gateway: str, sdk: SDKs) -> None:
    key = new_key(gateway, name="cost-stream")
    with sdk.anthropic(gateway, key).messages.with_streaming_response.create(
        model="claude-3-haiku-20240307", max_tokens=100, messages=HI, stream=True
    ) as response:
        assert "x-quarry-cost-usd" not in response.headers  # the tokens are not known when headers are sent
        assert float(response.headers["x-quarry-cost-max-usd"]) >= haiku_usd(0, 100)
        for _ in response.iter_lines():
            pass


def test_usage_reports_and_metrics_give_spend(gateway: str, data_dir: Path, sdk: SDKs) -> None:
    key = new_key(gateway, name="cost-report")
    client = sdk.openai(f"{gateway}/v1", key)
    answers = [client.chat.completions.create(model=HAIKU, max_tokens=40, messages=HI) for _ in range(2)]
    claude = sdk.anthropic(gateway, key)
    with claude.messages.stream(model="claude-3-haiku-20240307", max_tokens=50, messages=HI) as stream:
        streamed = stream.get_final_message().usage
    expected = sum(haiku_usd(a.usage.prompt_tokens, a.usage.completion_tokens) for a in answers if a.usage)
    expected += haiku_usd(streamed.input_tokens, streamed.output_tokens)
    keys = httpx.get(f"{gateway}/admin/keys", headers=ADMIN_HEADERS).json()["data"]
    key_id = next(k["id"] for k in keys if k["name"] == "cost-report")
    report = httpx.get(f"{gateway}/admin/usage?by=key", headers=ADMIN_HEADERS).json()["data"]
    assert next(row for row in report if row["key"] == key_id)["cost_usd"] == pytest.approx(expected, abs=1e-5)
    by_model = httpx.get(f"{gateway}/admin/usage?by=model", headers=ADMIN_HEADERS).json()["data"]
    assert next(row for row in by_model if row["model"] == HAIKU)["cost_usd"] >= expected - 1e-5
    by_day = httpx.get(f"{gateway}/admin/usage?by=day", headers=ADMIN_HEADERS).json()["data"]
    assert sum(row["cost_usd"] or 0 for row in by_day) >= expected - 1e-5
    env = {**os.environ, "QUARRY_DATA_DIR": str(data_dir)}
    quarry = str(Path(sys.executable).with_name("quarry"))
    printed = subprocess.run([quarry, "usage", "--by", "key", "--json"], env=env, capture_output=True, check=True)
    assert next(r for r in json.loads(printed.stdout) if r["key"] == key_id)["cost_usd"] == pytest.approx(
        expected, abs=1e-5
    )
    table = subprocess.run([quarry, "usage", "--by", "model"], env=env, capture_output=True, check=True, text=True)
    assert "COST USD" in table.stdout
    metrics = httpx.get(f"{gateway}/metrics").text
    line = next(line for line in metrics.splitlines() if line.startswith("quarry_spend_usd_total{") and key_id in line)
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(expected, abs=1e-6)
