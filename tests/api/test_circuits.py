"""Circuit breakers through the gateway: a model that keeps failing is refused at once (a 503, or Anthropic's 529,
naming the model and when it is tried again) or skipped to a fallback, shown by GET /admin/circuits and the
quarry_circuit_state gauge, and closed again by a half-open probe."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import anthropic
import httpx
import openai
import pytest

from quarry.server import create_app
from quarry.settings import BedrockSettings, ResilienceSettings, Settings
from tests.api.conftest import HAIKU, KEY, LLAMA3, Emulator
from tests.conftest import SDKs

ADMIN = {"Authorization": f"Bearer {KEY}"}
THROTTLED = "[[emulator: throttle, for=anthropic.claude-3-haiku*]] hello"


COOLDOWN_S = 1.5  # for the half-open test; the others wait for nothing and take a cool-down no slow machine sees end
LONG_COOLDOWN_S = 60.0


@pytest.fixture
def url(request: pytest.FixtureRequest, serve: Any, aws_environment: None, tmp_path: Any) -> str:
    """A gateway of its own for each test: circuits are per app, and these open them on purpose."""
    cooldown = getattr(request, "param", LONG_COOLDOWN_S)
    settings = Settings(
        backend="bedrock",
        api_key=KEY,  # type: ignore[arg-type]
        data_dir=tmp_path,
        bedrock=BedrockSettings(max_attempts=1),
        resilience=ResilienceSettings(breaker_failures=2, breaker_cooldown_s=cooldown),
    )
    gateway: str = serve(create_app(settings), lifespan="on").url
    return gateway


def _circuits(url: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/admin/circuits", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["failures_to_open"] == 2
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _gauge(url: str) -> float | None:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(rf'^quarry_circuit_state\{{model="{re.escape(HAIKU)}",region="us-east-1"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def _open_the_circuit(sdk: SDKs, url: str) -> None:
    client = sdk.openai(f"{url}/v1", KEY)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": THROTTLED}])


def test_an_open_circuit_refuses_in_each_envelope_without_calling_bedrock(
    sdk: SDKs, url: str, emulator: Emulator
) -> None:
    assert _circuits(url) == []
    refused_to_others = httpx.get(f"{url}/admin/circuits")
    assert (refused_to_others.status_code, refused_to_others.json()["error"]["type"]) == (401, "authentication_error")
    _open_the_circuit(sdk, url)
    before = emulator.app.requests.total
    with pytest.raises(openai.InternalServerError) as refused:
        sdk.openai(f"{url}/v1", KEY).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 503
    assert refused.value.code == "circuit_open"
    assert f"`{HAIKU}` is failing in us-east-1" in refused.value.message
    assert 55 <= int(refused.value.response.headers["retry-after"]) <= 60  # the cool-down left, in whole seconds
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        sdk.anthropic(url, KEY).messages.create(
            model="claude-3-haiku-20240307", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "tries it again at" in overloaded.value.body["error"]["message"]  # type: ignore[index]
    assert emulator.app.requests.total == before, "an open circuit costs no Bedrock call"
    [circuit] = _circuits(url)
    assert (circuit["model"], circuit["region"], circuit["state"], circuit["failures"]) == (
        HAIKU,
        "us-east-1",
        "open",
        2,
    )
    assert 0 < circuit["retry_in_s"] <= LONG_COOLDOWN_S
    assert _gauge(url) == 2.0


def test_an_open_circuit_skips_to_the_fallback_at_once(sdk: SDKs, url: str, emulator: Emulator) -> None:
    _open_the_circuit(sdk, url)
    before = emulator.app.requests.by_operation["Converse"]
    client = sdk.openai(f"{url}/v1", KEY, default_headers={"x-quarry-fallbacks": LLAMA3})
    raw = client.chat.completions.with_raw_response.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == 'You said: "hi"'
    assert raw.headers["x-quarry-model-used"] == LLAMA3
    assert emulator.app.requests.by_operation["Converse"] - before == 1


@pytest.mark.parametrize("url", [COOLDOWN_S], indirect=True)
async def test_a_half_open_probe_closes_the_circuit_or_opens_it_again(sdk: SDKs, url: str) -> None:
    _open_the_circuit(sdk, url)
    client = sdk.openai(f"{url}/v1", KEY)
    await asyncio.sleep(COOLDOWN_S + 0.05)
    assert _circuits(url)[0]["state"] == "half_open"
    assert _gauge(url) == 1.0
    with pytest.raises(openai.RateLimitError):  # the probe is throttled: open again
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": THROTTLED}])
    [reopened] = _circuits(url)
    assert (reopened["failures"], reopened["state"] != "closed") == (3, True)  # open (half-open again if slow)
    await asyncio.sleep(COOLDOWN_S + 0.05)
    answer = client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == 'You said: "hi"'
    assert _circuits(url) == [
        {"model": HAIKU, "region": "us-east-1", "state": "closed", "failures": 0, "retry_in_s": None}
    ]
    assert _gauge(url) == 0.0
