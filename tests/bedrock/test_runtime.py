"""The async Bedrock client against the emulator over real sockets: retries, errors, streams, the catalog."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from quarry.bedrock import BedrockRuntime, ModelCatalog, SigV4Signer, StaticCredentials, resolve_aws
from quarry.emulator import EmulatorApp, EmulatorConfig
from quarry.errors import (
    InvalidRequest,
    ModelNotFound,
    QuarryError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from quarry.settings import BedrockSettings, ModelSettings

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HELLO: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}


def _runtime(url: str, **settings: Any) -> BedrockRuntime:
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret"), "us-east-1")
    return BedrockRuntime(endpoint_url=url, region="us-east-1", signer=signer, settings=BedrockSettings(**settings))


@pytest.fixture(scope="module")
def faulty_url(serve: Any) -> str:
    # Half of all requests fail with throttling or 5xx faults; the seed makes the run repeatable.
    url: str = serve(EmulatorApp(EmulatorConfig(fault_rate=0.5, seed=3))).url
    return url


@pytest.fixture(scope="module")
def healthy_url(serve: Any) -> str:
    url: str = serve(EmulatorApp()).url
    return url


async def test_retries_ride_out_transient_faults(faulty_url: str) -> None:
    runtime = _runtime(faulty_url, max_attempts=8)
    try:
        for _ in range(20):
            answer = await runtime.converse(HAIKU, HELLO)
            assert answer["output"]["message"]["content"] == [{"text": 'You said: "Hello"'}]
    finally:
        await runtime.aclose()


async def test_without_retries_the_faults_surface_as_typed_errors(faulty_url: str) -> None:
    runtime = _runtime(faulty_url, max_attempts=1)
    failures: list[Exception] = []
    try:
        for _ in range(20):
            try:
                await runtime.converse(HAIKU, HELLO)
            except QuarryError as exc:
                failures.append(exc)
    finally:
        await runtime.aclose()
    assert failures, "a 50% fault rate shows without retries"
    assert all(isinstance(f, RateLimited | UpstreamError) for f in failures)
    assert {f.status for f in failures} <= {429, 502, 503, 504}


async def test_caller_mistakes_are_not_retried(healthy_url: str) -> None:
    runtime = _runtime(healthy_url)
    try:
        with pytest.raises(InvalidRequest) as caught:
            await runtime.converse(HAIKU, {"messages": [{"role": "assistant", "content": [{"text": "x"}]}]})
        assert caught.value.code == "ValidationException"
        with pytest.raises(ModelNotFound):
            await runtime.converse("anthropic.nothing-v1:0", HELLO)
    finally:
        await runtime.aclose()


async def test_unreachable_endpoint_is_unavailable() -> None:
    runtime = _runtime("http://127.0.0.1:9", max_attempts=2, connect_timeout_s=1)
    try:
        with pytest.raises(UpstreamUnavailable, match="cannot reach Bedrock"):
            await runtime.converse(HAIKU, HELLO)
    finally:
        await runtime.aclose()


async def test_stream_events_and_token_count(healthy_url: str) -> None:
    runtime = _runtime(healthy_url)
    try:
        async with runtime.converse_stream(HAIKU, HELLO) as events:
            kinds = [next(iter(event)) async for event in events]
        assert kinds[0] == "messageStart"
        assert kinds[-2:] == ["messageStop", "metadata"]
        assert await runtime.count_tokens(HAIKU, {"converse": HELLO}) > 0
    finally:
        await runtime.aclose()


def _prompt(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}]}


async def test_a_stream_silent_for_the_idle_timeout_ends_in_a_timeout(healthy_url: str) -> None:
    # Events 0.5 s apart against an idle timeout of 0.2 s: the answer has started (the block is entered), then the
    # first silence ends it.
    runtime = _runtime(healthy_url, idle_timeout_s=0.2, max_attempts=1)
    started: list[bool] = []
    kinds: list[str] = []

    async def read() -> None:
        async with runtime.converse_stream(HAIKU, _prompt("[[emulator: tps=2, words=5]] Hi")) as events:
            started.append(True)
            kinds.extend([next(iter(event)) async for event in events])

    try:
        with pytest.raises(UpstreamTimeout, match=r"sent nothing for 0\.2 s"):
            await read()
    finally:
        await runtime.aclose()
    assert started
    assert "messageStop" not in kinds


async def test_a_paced_stream_within_the_idle_timeout_is_read_whole(healthy_url: str) -> None:
    # Events 50 ms apart, for longer in all than the idle timeout: only a silence counts, not the stream's length.
    runtime = _runtime(healthy_url, idle_timeout_s=0.3, max_attempts=1)
    try:
        async with runtime.converse_stream(HAIKU, _prompt("[[emulator: tps=20, words=12]] Hi")) as events:
            kinds = [next(iter(event)) async for event in events]
    finally:
        await runtime.aclose()
    assert kinds[-2:] == ["messageStop", "metadata"]
    assert kinds.count("contentBlockDelta") >= 12


async def test_bearer_token_and_endpoint_variables(monkeypatch: pytest.MonkeyPatch, healthy_url: str) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-test")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", healthy_url)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    target = await resolve_aws(default_region="us-east-1")
    assert target is not None
    assert target.region == "eu-west-1"
    assert target.runtime_url == healthy_url
    assert "API key" in target.identity
    headers = await target.signer.sign("POST", healthy_url + "/x", {}, b"{}")
    assert headers["Authorization"] == "Bearer bedrock-api-key-test"


class _FlakySource:
    """A control plane that answers once, then fails: the catalog must keep the last good list."""

    def __init__(self) -> None:
        self.calls = 0

    async def foundation_models(self) -> list[dict[str, Any]]:
        self.calls += 1
        if self.calls > 1:
            raise UpstreamUnavailable("control plane down")
        return [{"modelId": HAIKU, "providerName": "Anthropic", "outputModalities": ["TEXT"]}]

    async def inference_profiles(self) -> list[dict[str, Any]]:
        return []


async def test_catalog_keeps_the_last_good_list_and_fetches_lazily() -> None:
    source = _FlakySource()
    catalog = ModelCatalog(source, ModelSettings(aliases={"fast": HAIKU}), region="us-east-1", ttl_s=0)
    assert source.calls == 0, "nothing is fetched before it is needed"
    first = {entry.id for entry in await catalog.entries()}
    assert first == {HAIKU, "fast"}
    again = {entry.id for entry in await catalog.entries()}  # ttl 0: refresh attempted, fails, old list kept
    assert again == first
    assert source.calls == 2
    assert (await catalog.resolve("fast")).id == HAIKU
    with pytest.raises(ModelNotFound):
        await catalog.resolve("meta.unknown-v1:0")


async def test_catalog_without_any_list_lets_bedrock_judge() -> None:
    class Down(_FlakySource):
        async def foundation_models(self) -> list[dict[str, Any]]:
            raise UpstreamUnavailable("control plane down")

    catalog = ModelCatalog(Down(), ModelSettings(), region="us-east-1", ttl_s=60)
    assert (await catalog.resolve("meta.unknown-v1:0")).id == "meta.unknown-v1:0"
    # Anthropic's model names are read from Quarry's own table when Bedrock's list is out of reach.
    assert (await catalog.resolve("claude-3-5-sonnet-latest")).id == "anthropic.claude-3-5-sonnet-20241022-v2:0"
    with pytest.raises(UpstreamUnavailable):
        await catalog.entries()


MESSAGES_HELLO = orjson.dumps(
    {"model": "us.anthropic.claude-opus-4-8", "max_tokens": 50, "messages": [{"role": "user", "content": "Hello"}]}
)
VERSION = {"anthropic-version": "2023-06-01"}


async def test_messages_endpoint_rides_out_faults(faulty_url: str) -> None:
    runtime = _runtime(faulty_url, max_attempts=8)
    try:
        for _ in range(10):
            answer = await runtime.messages(MESSAGES_HELLO, VERSION)
            assert answer["content"] == [{"type": "text", "text": 'You said: "Hello"'}]
    finally:
        await runtime.aclose()


async def test_messages_endpoint_stream_and_its_refusals(healthy_url: str) -> None:
    runtime = _runtime(healthy_url)
    try:
        streamed = orjson.dumps(orjson.loads(MESSAGES_HELLO) | {"stream": True})
        async with runtime.messages_stream(streamed, VERSION) as events:
            names = [event.name async for event in events]
        assert names[0] == "message_start"
        assert names[-2:] == ["message_delta", "message_stop"]
        with pytest.raises(InvalidRequest) as refused:
            await runtime.messages(MESSAGES_HELLO, {"anthropic-version": "1999-01-01"})
        assert refused.value.relayed is not None  # Anthropic's envelope, kept whole for the dialect to pass on
        status, body = refused.value.relayed
        assert status == 400
        assert orjson.loads(body)["error"]["type"] == "invalid_request_error"
    finally:
        await runtime.aclose()


class _MovingSource:
    """A control plane whose second list serves the model only through its US inference profile."""

    def __init__(self) -> None:
        self.calls = 0

    async def foundation_models(self) -> list[dict[str, Any]]:
        self.calls += 1
        types = ["ON_DEMAND"] if self.calls == 1 else ["INFERENCE_PROFILE"]
        return [{"modelId": HAIKU, "outputModalities": ["TEXT"], "inferenceTypesSupported": types}]

    async def inference_profiles(self) -> list[dict[str, Any]]:
        return [{"inferenceProfileId": f"us.{HAIKU}"}]


async def test_catalog_answers_each_name_from_the_list_it_holds() -> None:
    kept = ModelCatalog(_MovingSource(), ModelSettings(aliases={"fast": HAIKU}), region="us-east-1", ttl_s=60)
    first = await kept.resolve("fast")
    assert (first.id, first.base_id) == (HAIKU, HAIKU)
    second = await kept.resolve("fast")  # the first call fetched the list: answers are kept from the second
    assert second == first
    assert await kept.resolve("fast") is second, "one list, one answer per name"
    for _ in range(2):
        with pytest.raises(ModelNotFound):  # a refused name is refused each time
            await kept.resolve("meta.unknown-v1:0")
    # A list fetched again (ttl 0: on each call) is the one names are resolved against.
    moving = ModelCatalog(_MovingSource(), ModelSettings(aliases={"fast": HAIKU}), region="us-east-1", ttl_s=0)
    assert (await moving.resolve(HAIKU)).id == HAIKU
    again = await moving.resolve(HAIKU)
    assert (again.id, again.base_id) == (f"us.{HAIKU}", HAIKU)
