"""`/metrics` after real calls through the official SDKs: counts, tokens equal to the usage the client saw, time to
first token for streams, errors by type, Bedrock's throttles (retried ones too), streams in flight; the exposition
parses; who may scrape."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from quarry.observability import LATENCY_BUCKETS_S
from quarry.server import create_app
from quarry.settings import BedrockSettings, Settings
from tests.api.conftest import HAIKU, KEY
from tests.conftest import SDKs

ATTEMPTS = 3
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def gateway_url(serve: Any, aws_environment: None) -> str:
    settings = Settings(backend="bedrock", api_key=KEY, bedrock=BedrockSettings(max_attempts=ATTEMPTS))  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def scrape(url: str, **headers: str) -> Samples:
    response = httpx.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def settled(url: str, done: Callable[[Samples], bool]) -> Samples:
    """The metrics once `done` holds: an exchange is counted just after its last byte has gone to the client."""
    deadline = time.monotonic() + 5
    while True:
        samples = scrape(url)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.01)


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_moves_counts_tokens_and_latency(sdk: SDKs, gateway_url: str, stream: bool) -> None:
    before = scrape(gateway_url)
    client = sdk.openai(f"{gateway_url}/v1", KEY)
    messages: list[Any] = [{"role": "user", "content": "[[emulator: words=25]]"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model=HAIKU, messages=messages, stream=True, stream_options={"include_usage": True}
            )
        )
        usage = chunks[-1].usage
    else:
        usage = client.chat.completions.create(model=HAIKU, messages=messages).usage
    assert usage is not None
    ok = {"api": "chat.completions", "model": HAIKU}
    after = settled(
        gateway_url,
        lambda s: (
            value(s, "quarry_requests_total", **ok, status="200")
            == value(before, "quarry_requests_total", **ok, status="200") + 1
        ),
    )

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("quarry_requests_total", **ok, status="200") == 1
    assert moved("quarry_tokens_total", model=HAIKU, kind="input") == usage.prompt_tokens
    assert moved("quarry_tokens_total", model=HAIKU, kind="output") == usage.completion_tokens > 0
    assert moved("quarry_request_duration_seconds_count", **ok) == 1
    assert moved("quarry_request_duration_seconds_sum", **ok) > 0
    assert moved("quarry_time_to_first_token_seconds_count", **ok) == (1 if stream else 0)
    assert moved("quarry_errors_total", api="chat.completions", type="RateLimited") == 0


@pytest.mark.parametrize(
    ("model", "bedrock_id"), [("claude-3-haiku-20240307", HAIKU), ("amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0")]
)
def test_anthropic_stream_counts_tokens_and_first_token(
    sdk: SDKs, gateway_url: str, model: str, bedrock_id: str
) -> None:
    before = scrape(gateway_url)
    client = sdk.anthropic(gateway_url, KEY)
    with client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "[[emulator: words=12]]"}]
    ) as events:
        usage = events.get_final_message().usage
    labels = {"api": "messages", "model": bedrock_id}
    count = "quarry_time_to_first_token_seconds_count"
    after = settled(gateway_url, lambda s: value(s, count, **labels) > value(before, count, **labels))
    assert value(after, count, **labels) - value(before, count, **labels) == 1
    for kind, seen in (("input", usage.input_tokens), ("output", usage.output_tokens)):
        tokens = {"model": bedrock_id, "kind": kind}
        assert value(after, "quarry_tokens_total", **tokens) - value(before, "quarry_tokens_total", **tokens) == seen
        assert seen > 0


def test_throttling_counts_the_error_and_every_upstream_attempt(sdk: SDKs, gateway_url: str) -> None:
    before = scrape(gateway_url)
    client = sdk.openai(f"{gateway_url}/v1", KEY)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "[[emulator: throttle]]"}])
    errors = {"api": "chat.completions", "type": "RateLimited"}
    after = settled(
        gateway_url,
        lambda s: value(s, "quarry_errors_total", **errors) > value(before, "quarry_errors_total", **errors),
    )
    assert value(after, "quarry_errors_total", **errors) - value(before, "quarry_errors_total", **errors) == 1
    failed = {"api": "chat.completions", "model": HAIKU, "status": "429"}
    assert value(after, "quarry_requests_total", **failed) - value(before, "quarry_requests_total", **failed) == 1
    # Quarry tried ATTEMPTS times before answering 429: every one of Bedrock's refusals is counted.
    throttles = value(after, "quarry_upstream_throttles_total") - value(before, "quarry_upstream_throttles_total")
    assert throttles == ATTEMPTS
    upstream = value(after, "quarry_upstream_errors_total", type="RateLimited")
    assert upstream - value(before, "quarry_upstream_errors_total", type="RateLimited") == ATTEMPTS


def test_a_throttle_inside_a_stream_is_counted(sdk: SDKs, gateway_url: str) -> None:
    before = scrape(gateway_url)
    client = sdk.openai(f"{gateway_url}/v1", KEY)
    content = "[[emulator: words=30, stream-error=throttlingException, stream-error-after=3]]"
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=HAIKU, stream=True, messages=[{"role": "user", "content": content}]))
    errors = {"api": "chat.completions", "type": "RateLimited"}
    after = settled(
        gateway_url,
        lambda s: value(s, "quarry_errors_total", **errors) > value(before, "quarry_errors_total", **errors),
    )
    assert value(after, "quarry_upstream_throttles_total") - value(before, "quarry_upstream_throttles_total") == 1
    streamed = {"api": "chat.completions", "model": HAIKU, "status": "200"}  # the stream had started
    assert value(after, "quarry_requests_total", **streamed) - value(before, "quarry_requests_total", **streamed) == 1


@pytest.mark.parametrize("ending", ["completed", "abandoned"])
def test_active_streams_rise_during_a_stream_and_fall_after(sdk: SDKs, gateway_url: str, ending: str) -> None:
    assert value(settled(gateway_url, lambda s: value(s, "quarry_active_streams") == 0), "quarry_active_streams") == 0
    client = sdk.openai(f"{gateway_url}/v1", KEY)
    first_chunk, release = threading.Event(), threading.Event()
    received: list[str] = []

    def consume() -> None:
        messages: list[Any] = [{"role": "user", "content": "[[emulator: words=40, tps=20]]"}]
        with client.chat.completions.create(model=HAIKU, messages=messages, stream=True) as chunks:
            for chunk in chunks:
                first_chunk.set()
                release.wait(10)
                if ending == "abandoned":
                    return  # leaving the block closes the connection mid-stream
                received.extend(choice.delta.content or "" for choice in chunk.choices)

    reader = threading.Thread(target=consume)
    reader.start()
    try:
        assert first_chunk.wait(10)
        assert value(scrape(gateway_url), "quarry_active_streams") == 1
    finally:
        release.set()
        reader.join(30)
    assert value(settled(gateway_url, lambda s: value(s, "quarry_active_streams") == 0), "quarry_active_streams") == 0
    assert (len("".join(received).split()) == 40) == (ending == "completed")


def test_exposition_parses_with_quarry_series_and_llm_buckets(sdk: SDKs, gateway_url: str) -> None:
    sdk.openai(f"{gateway_url}/v1", KEY).models.list()
    text = httpx.get(f"{gateway_url}/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {
        "quarry_requests": "counter",
        "quarry_errors": "counter",
        "quarry_request_duration_seconds": "histogram",
        "quarry_time_to_first_token_seconds": "histogram",
        "quarry_tokens": "counter",
        "quarry_active_streams": "gauge",
        "quarry_upstream_throttles": "counter",
        "quarry_upstream_errors": "counter",
    }.items() <= {name: family.type for name, family in families.items()}.items()
    assert all(name.startswith("quarry_") for name in families)
    buckets = {
        sample.labels["le"]
        for sample in families["quarry_request_duration_seconds"].samples
        if sample.name.endswith("_bucket")
    }
    assert {"0.005", "120.0", "+Inf"} <= buckets
    assert len(buckets) == len(LATENCY_BUCKETS_S) + 1
    # A scraper asking for OpenMetrics gets it.
    response = httpx.get(f"{gateway_url}/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert any(family.name == "quarry_requests" for family in parse_openmetrics(response.text))


def test_two_apps_in_one_process_keep_their_own_metrics(sdk: SDKs, gateway_url: str, serve: Any) -> None:
    other = serve(create_app(Settings(backend="bedrock", api_key=KEY)), lifespan="on").url  # type: ignore[arg-type]
    sdk.openai(f"{gateway_url}/v1", KEY).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "Hi"}]
    )
    assert value(scrape(gateway_url), "quarry_requests_total", api="chat.completions", model=HAIKU, status="200") > 0
    assert not any(labels and dict(labels).get("api") == "chat.completions" for _, labels in scrape(other))


def test_scraping_needs_a_key_unless_loopback_or_public(gateway_url: str, serve: Any) -> None:
    # Behind a local reverse proxy uvicorn reports the forwarded client (it trusts X-Forwarded-For from
    # 127.0.0.1): a scrape relayed for a remote address is not a loopback scrape.
    remote = {"x-forwarded-for": "203.0.113.9"}
    assert httpx.get(f"{gateway_url}/metrics").status_code == 200
    refused = httpx.get(f"{gateway_url}/metrics", headers=remote)
    assert refused.status_code == 401
    assert "quarry_requests" not in refused.text
    assert httpx.get(f"{gateway_url}/metrics", headers={**remote, "authorization": "Bearer wrong"}).status_code == 401
    assert scrape(gateway_url, **remote, authorization=f"Bearer {KEY}")
    public = Settings(backend="bedrock", api_key=KEY, metrics_public=True)  # type: ignore[arg-type]
    public_url = serve(create_app(public), lifespan="on").url
    assert scrape(public_url, **remote)
