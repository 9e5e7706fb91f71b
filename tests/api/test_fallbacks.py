"""Fallback chains and geographic → global failover through the gateway, driven by the emulator's scoped faults
(`[[emulator: throttle, for=GLOB]]`): a throttling storm on one model is answered by the next, whole and streamed,
in the OpenAI and Anthropic dialects, and counted against the model that answered — but never once a byte is out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from quarry.exchange import Exchange
from quarry.server import create_app
from quarry.settings import BedrockSettings, ModelSettings, ResilienceSettings, Settings
from quarry.spend import PriceTable
from tests.api.conftest import HAIKU, KEY, LLAMA3, MISTRAL_7B, SONNET_45, SONNET_45_PROFILE, Emulator
from tests.conftest import SDKs

SONNET_45_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS_47_PROFILE = "us.anthropic.claude-opus-4-7"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"  # 200,000 tokens, as Sonnet 4.5: no help for a prompt too long
SONNET_46 = "anthropic.claude-sonnet-4-6"  # 1,000,000 tokens
STORM_ON_HAIKU = "[[emulator: throttle, for=anthropic.claude-3-haiku*]] hello"


class Seen:
    """The exchanges the gateway closed (what usage, cost and metrics are counted from), by request id."""

    def __init__(self) -> None:
        self.exchanges: dict[str, Exchange] = {}

    def __call__(self, exchange: Exchange) -> None:
        self.exchanges[exchange.request_id] = exchange

    def get(self, request_id: str) -> Exchange:
        for _ in range(500):  # a stream's exchange closes after its last byte, just after the client has it
            if request_id in self.exchanges:
                return self.exchanges[request_id]
            time.sleep(0.01)
        raise AssertionError(f"no exchange closed for {request_id}")


@dataclass
class Gateway:
    url: str
    seen: Seen
    emulator: Emulator
    data_dir: Path

    def calls(self, operation: str) -> int:
        return self.emulator.app.requests.by_operation[operation]


@pytest.fixture(scope="module")
def failover(
    serve: Any, emulator: Emulator, aws_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> Gateway:
    settings = Settings(
        backend="bedrock",
        api_key=KEY,  # type: ignore[arg-type]
        data_dir=(data_dir := tmp_path_factory.mktemp("fallbacks")),  # its own keys
        keepalive_s=0.2,
        bedrock=BedrockSettings(max_attempts=2),
        resilience=ResilienceSettings(global_failover=True, backoff_base_s=0.01, breaker_failures=1000),
        models=ModelSettings(
            fallbacks={
                HAIKU: [SONNET_45],
                "claude-3-haiku-20240307": ["claude-sonnet-4-5"],
                "claude-opus-4-7": ["claude-sonnet-4-5"],
                SONNET_45: [HAIKU_45, SONNET_46],
            }
        ),
    )
    seen = Seen()
    url: str = serve(create_app(settings, listeners=[seen]), lifespan="on").url
    return Gateway(url, seen, emulator, data_dir)


def _counted_against(exchange: Exchange, model: str, asked: str) -> None:
    assert (exchange.model, exchange.model_asked, exchange.status) == (model, asked, 200)
    assert exchange.input_tokens > 0
    assert exchange.output_tokens > 0
    prices = PriceTable.load()
    assert exchange.cost() == prices.cost(model, exchange.counts())
    assert exchange.cost() != prices.cost(asked, exchange.counts())


def test_openai_whole_answer_comes_from_the_fallback_and_is_counted_against_it(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": STORM_ON_HAIKU}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == 'You said: "hello"'
    assert completion.model == SONNET_45_PROFILE  # the chat dialect names the Bedrock model that answered
    assert raw.headers["x-quarry-model-used"] == SONNET_45_PROFILE
    exchange = failover.seen.get(raw.headers["x-request-id"])
    _counted_against(exchange, SONNET_45_PROFILE, HAIKU)
    assert raw.headers["x-quarry-cost-usd"] == f"{exchange.cost():.6f}"


def test_openai_stream_comes_from_the_fallback(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU,
        messages=[{"role": "user", "content": STORM_ON_HAIKU}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == 'You said: "hello"'
    assert {chunk.model for chunk in chunks} == {SONNET_45_PROFILE}
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert raw.headers["x-quarry-model-used"] == SONNET_45_PROFILE
    _counted_against(failover.seen.get(raw.headers["x-request-id"]), SONNET_45_PROFILE, HAIKU)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("asked", "first_id", "storm"),
    [
        # InvokeModel with Claude's own body, then the fallback's
        ("claude-3-haiku-20240307", HAIKU, "anthropic.claude-3-haiku*"),
        # Bedrock's Messages endpoint (Claude 4.7+), then InvokeModel for the fallback
        ("claude-opus-4-7", OPUS_47_PROFILE, "*claude-opus-4-7"),
    ],
)
def test_anthropic_answers_come_from_the_fallback(
    sdk: SDKs, failover: Gateway, asked: str, first_id: str, storm: str, stream: bool
) -> None:
    client = sdk.anthropic(failover.url, KEY)
    raw = client.messages.with_raw_response.create(
        model=asked,
        max_tokens=100,
        messages=[{"role": "user", "content": f"[[emulator: throttle, for={storm}]] hello"}],
        stream=stream,
    )
    if stream:
        events = list(raw.parse())
        assert events[0].type == "message_start"
        assert events[0].message.model == asked
        text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
        assert events[-1].type == "message_stop"
    else:
        message = raw.parse()
        assert message.model == asked  # Anthropic's answers name the model the caller asked for
        text = message.content[0].text
    assert text == 'You said: "hello"'
    assert raw.headers["x-quarry-model-used"] == SONNET_45_PROFILE
    _counted_against(failover.seen.get(raw.headers["x-request-id"]), SONNET_45_PROFILE, first_id)


def test_a_throttled_geographic_profile_fails_over_to_the_global_one(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    raw = client.chat.completions.with_raw_response.create(
        model=SONNET_45, messages=[{"role": "user", "content": "[[emulator: throttle, for=us.*]] hello"}]
    )
    assert raw.parse().choices[0].message.content == 'You said: "hello"'
    assert raw.headers["x-quarry-model-used"] == SONNET_45_GLOBAL
    exchange = failover.seen.get(raw.headers["x-request-id"])
    assert (exchange.model, exchange.model_asked) == (SONNET_45_GLOBAL, SONNET_45_PROFILE)


def test_without_global_failover_the_throttle_is_the_answer(sdk: SDKs, gateway: str) -> None:
    # The session's gateway has neither fallbacks nor global failover.
    client = sdk.openai(f"{gateway}/v1", KEY)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model=SONNET_45, messages=[{"role": "user", "content": "[[emulator: throttle, for=us.*]] hello"}]
        )
    assert "throttling" in caught.value.message


def test_a_stream_failing_in_its_first_frame_still_falls_back(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    prompt = "[[emulator: stream-error=ThrottlingException, for=anthropic.claude-3-haiku*]] hello"
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": prompt}], stream=True
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == 'You said: "hello"'
    assert raw.headers["x-quarry-model-used"] == SONNET_45_PROFILE


def test_no_fallback_once_the_first_event_has_been_sent(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    before = failover.calls("ConverseStream")
    prompt = "[[emulator: words=20, stream-error=ThrottlingException, stream-error-after=3]] hello"
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": prompt}], stream=True
    )
    received: list[str] = []

    def read() -> None:
        for chunk in raw.parse():
            received.extend(c.delta.content or "" for c in chunk.choices)

    with pytest.raises(openai.APIError) as caught:
        read()
    assert "".join(received), "part of the answer had reached the client"
    assert "throttling" in str(caught.value).lower()
    assert failover.calls("ConverseStream") - before == 1, "no second model was asked"
    assert raw.headers["x-quarry-model-used"] == HAIKU
    exchange = failover.seen.get(raw.headers["x-request-id"])
    assert (exchange.model, exchange.error_type) == (HAIKU, "RateLimited")


def test_a_prompt_over_the_window_moves_only_to_a_larger_window(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    before = failover.calls("Converse")
    long_prompt = "word " * 201_000  # over Sonnet 4.5's 200,000 tokens (models.json), under Sonnet 4.6's million
    raw = client.chat.completions.with_raw_response.create(
        model=SONNET_45, max_tokens=20, messages=[{"role": "user", "content": long_prompt}]
    )
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-quarry-model-used"] == "us." + SONNET_46
    # Sonnet 4.5's global profile and Haiku 4.5 have the same window: they are not asked.
    assert failover.calls("Converse") - before == 2


def test_a_request_names_its_own_fallbacks(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY, default_headers={"x-quarry-fallbacks": f"{MISTRAL_7B} , {LLAMA3}"})
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": STORM_ON_HAIKU}]
    )
    assert raw.parse().choices[0].message.content == 'You said: "hello"'
    assert raw.headers["x-quarry-model-used"] == MISTRAL_7B


def test_when_every_model_fails_the_last_error_is_the_answer(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.anthropic(failover.url, KEY, default_headers={"x-quarry-fallbacks": "claude-sonnet-4-5"})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(
            model="claude-3-haiku-20240307",
            max_tokens=50,
            messages=[{"role": "user", "content": "[[emulator: throttle]] hello"}],
        )
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    exchange = failover.seen.get(caught.value.response.headers["x-request-id"])
    assert (exchange.model, exchange.model_asked) == (SONNET_45_GLOBAL, HAIKU)


@pytest.fixture(scope="module")
def haiku_only_key(failover: Gateway) -> str:
    made = httpx.post(
        f"{failover.url}/admin/keys",
        json={"name": "haiku only", "models": [HAIKU, "claude-3-haiku-*"]},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert made.status_code == 201, made.text
    return made.json()["key"]


def test_a_requests_fallbacks_stay_within_the_keys_scope(sdk: SDKs, failover: Gateway, haiku_only_key: str) -> None:
    client = sdk.openai(f"{failover.url}/v1", haiku_only_key, default_headers={"x-quarry-fallbacks": LLAMA3})
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hello"}])
    error = caught.value.body
    assert error["param"] == "x-quarry-fallbacks"  # type: ignore[index]
    assert f"may not use the model `{LLAMA3}`" in error["message"]  # type: ignore[index]
    # Configured fallbacks outside the key's scope are left out: the storm is the answer.
    keyed = sdk.openai(f"{failover.url}/v1", haiku_only_key)
    with pytest.raises(openai.RateLimitError):
        keyed.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": STORM_ON_HAIKU}])


def test_an_unknown_fallback_is_named(sdk: SDKs, failover: Gateway) -> None:
    client = sdk.anthropic(failover.url, KEY, default_headers={"x-quarry-fallbacks": "no-such-model"})
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(
            model="claude-3-haiku-20240307", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert "`x-quarry-fallbacks` names `no-such-model`" in caught.value.body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_come_from_the_fallback(sdk: SDKs, failover: Gateway, stream: bool) -> None:
    client = sdk.openai(f"{failover.url}/v1", KEY)
    raw = client.responses.with_raw_response.create(model=HAIKU, input=STORM_ON_HAIKU, stream=stream, store=False)
    if stream:
        events = list(raw.parse())
        [done] = [event for event in events if event.type == "response.completed"]
        text = done.response.output_text
    else:
        text = raw.parse().output_text
    assert text == 'You said: "hello"'
    assert raw.headers["x-quarry-model-used"] == SONNET_45_PROFILE
    _counted_against(failover.seen.get(raw.headers["x-request-id"]), SONNET_45_PROFILE, HAIKU)


def test_a_keys_own_fallbacks_come_before_the_servers(sdk: SDKs, failover: Gateway) -> None:
    admin = {"Authorization": f"Bearer {KEY}"}
    made = httpx.post(f"{failover.url}/admin/keys", json={"name": "own chain", "fallbacks": [LLAMA3]}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["fallbacks"] == [LLAMA3]
    client = sdk.openai(f"{failover.url}/v1", made.json()["key"])
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": STORM_ON_HAIKU}]
    )
    assert raw.headers["x-quarry-model-used"] == LLAMA3
    key_id = made.json()["id"]
    cleared = httpx.put(f"{failover.url}/admin/keys/{key_id}/fallbacks", json={"fallbacks": []}, headers=admin)
    assert (cleared.status_code, cleared.json()["fallbacks"]) == (200, [])
    time.sleep(0.6)  # the server's key cache (key_cache_ttl_s)
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": STORM_ON_HAIKU}]
    )
    assert raw.headers["x-quarry-model-used"] == SONNET_45_PROFILE  # the server's chain again
    unknown = httpx.put(f"{failover.url}/admin/keys/key_nope/fallbacks", json={"fallbacks": []}, headers=admin)
    assert (unknown.status_code, unknown.json()["error"]["param"]) == (404, "id")


def _quarry(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "QUARRY_DATA_DIR": str(data_dir)}
    quarry = str(Path(sys.executable).with_name("quarry"))
    return subprocess.run([quarry, *args], env=env, capture_output=True, check=True, text=True).stdout


def test_the_cli_sets_a_keys_fallbacks(sdk: SDKs, failover: Gateway) -> None:
    created = orjson.loads(
        _quarry(failover.data_dir, "keys", "create", "--name", "cli", "--fallbacks", MISTRAL_7B, "--json")
    )
    assert created["fallbacks"] == [MISTRAL_7B]
    client = sdk.openai(f"{failover.url}/v1", created["key"])
    raw = client.chat.completions.with_raw_response.create(
        model=HAIKU, messages=[{"role": "user", "content": STORM_ON_HAIKU}]
    )
    assert raw.headers["x-quarry-model-used"] == MISTRAL_7B
    assert f"fallbacks: {MISTRAL_7B}" in _quarry(failover.data_dir, "keys", "show", created["id"])
    changed = _quarry(failover.data_dir, "keys", "fallbacks", created["id"], f"{LLAMA3},{MISTRAL_7B}")
    assert changed.strip() == f"Fallbacks of {created['id']}: {LLAMA3}, {MISTRAL_7B}."
    assert _quarry(failover.data_dir, "keys", "fallbacks", created["id"]).strip().endswith(": none.")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": HAIKU, "max_tokens": 1000, "messages": [{"role": "user", "content": "Hi"}]}),
        ("/v1/responses", {"model": HAIKU, "max_output_tokens": 1000, "input": "Hi"}),
        ("/v1/messages", {"model": HAIKU, "max_tokens": 1000, "messages": [{"role": "user", "content": "Hi"}]}),
    ],
)
def test_the_budget_reservation_covers_the_dearest_model_of_the_chain(
    failover: Gateway, path: str, body: dict[str, Any]
) -> None:
    """Haiku falls back to Sonnet 4.5 here, twelve times dearer: a call is admitted only if the budget could pay
    Sonnet's answer, since the chain may give it."""
    admin = {"Authorization": f"Bearer {KEY}"}
    made = httpx.post(
        f"{failover.url}/admin/keys", json={"name": "chain-budget", "budgets": {"usd_day": 1.0}}, headers=admin
    )
    assert made.status_code == 201, made.text
    caller = {"Authorization": f"Bearer {made.json()['key']}"}
    alone = httpx.post(f"{failover.url}{path}", json=body, headers={**caller, "x-quarry-fallbacks": ""})
    chained = httpx.post(f"{failover.url}{path}", json=body, headers=caller)
    assert (alone.status_code, chained.status_code) == (200, 200), alone.text + chained.text
    haiku_most = float(alone.headers["x-quarry-cost-max-usd"])
    chain_most = float(chained.headers["x-quarry-cost-max-usd"])
    # Same tokens priced on the dearer model (Sonnet 4.5's profile, its long-context tier: the dearest rates).
    assert chain_most > 10 * haiku_most
    # A budget between the two admits Haiku alone, not the chain: the chain's reservation is Sonnet's.
    squeezed = httpx.post(
        f"{failover.url}/admin/keys",
        json={"name": "chain-squeezed", "budgets": {"usd_day": (haiku_most + chain_most) / 2}},
        headers=admin,
    ).json()["key"]
    caller = {"Authorization": f"Bearer {squeezed}"}
    refused = httpx.post(f"{failover.url}{path}", json=body, headers=caller)
    assert refused.status_code == 429, refused.text
    assert refused.headers["x-quarry-budget"] == "usd_day"
    admitted = httpx.post(f"{failover.url}{path}", json=body, headers={**caller, "x-quarry-fallbacks": ""})
    assert admitted.status_code == 200, admitted.text
