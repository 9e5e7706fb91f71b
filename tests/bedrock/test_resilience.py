"""The runtime's retries and circuit breakers against the emulator over real sockets: Retry-After, the request's
deadline, a circuit opening after consecutive failures and closing after a half-open probe."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quarry.bedrock import BedrockRuntime, CircuitOpen, SigV4Signer, StaticCredentials, deadline_within
from quarry.emulator import EmulatorApp
from quarry.errors import InvalidRequest, RateLimited
from quarry.settings import BedrockSettings, ResilienceSettings

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _ask(text: str) -> Any:
    return {"messages": [{"role": "user", "content": [{"text": text}]}]}


@pytest.fixture(scope="module")
def emulator(serve: Any) -> tuple[EmulatorApp, str]:
    app = EmulatorApp()
    return app, serve(app).url


def _runtime(url: str, attempts: int = 3, **resilience: Any) -> BedrockRuntime:
    signer = SigV4Signer(StaticCredentials("AKIDTEST", "secret"), "us-east-1")
    return BedrockRuntime(
        endpoint_url=url,
        region="us-east-1",
        signer=signer,
        settings=BedrockSettings(max_attempts=attempts),
        resilience=ResilienceSettings(backoff_base_s=0.01, **resilience),
    )


async def _calls(app: EmulatorApp, runtime: BedrockRuntime, text: str) -> tuple[int, Exception | None]:
    """Converse calls the emulator received for one runtime call, and what the call raised."""
    before = app.requests.by_operation["Converse"]
    raised: Exception | None = None
    try:
        await runtime.converse(HAIKU, _ask(text))
    except Exception as error:  # returned for the test to judge
        raised = error
    return app.requests.by_operation["Converse"] - before, raised


async def test_a_short_retry_after_is_waited_and_retried(emulator: tuple[EmulatorApp, str]) -> None:
    app, url = emulator
    runtime = _runtime(url)
    try:
        calls, raised = await _calls(app, runtime, "[[emulator: throttle, retry-after=0]] hi")
    finally:
        await runtime.aclose()
    assert calls == 3
    assert isinstance(raised, RateLimited)
    assert raised.retry_after == 0


async def test_a_retry_after_past_the_limit_ends_the_retries_and_is_passed_on(
    emulator: tuple[EmulatorApp, str],
) -> None:
    app, url = emulator
    runtime = _runtime(url, max_retry_after_s=10)
    try:
        calls, raised = await _calls(app, runtime, "[[emulator: throttle, retry-after=60]] hi")
    finally:
        await runtime.aclose()
    assert calls == 1
    assert isinstance(raised, RateLimited)
    assert raised.retry_after == 60


async def test_the_deadline_ends_retries_that_would_pass_it(emulator: tuple[EmulatorApp, str]) -> None:
    app, url = emulator
    runtime = _runtime(url)
    try:
        with deadline_within(2.0):
            calls, raised = await _calls(app, runtime, "[[emulator: throttle, retry-after=5]] hi")
        # Without a deadline the same answer is waited for (5 s is under max_retry_after_s): shown by a shorter one.
        with deadline_within(30.0):
            quick, _ = await _calls(app, runtime, "[[emulator: throttle, retry-after=0]] hi")
    finally:
        await runtime.aclose()
    assert (calls, quick) == (1, 3)
    assert isinstance(raised, RateLimited)


async def test_a_circuit_opens_refuses_and_closes_after_a_half_open_probe(emulator: tuple[EmulatorApp, str]) -> None:
    app, url = emulator
    runtime = _runtime(url, attempts=2, breaker_failures=2, breaker_cooldown_s=0.5)
    throttle = "[[emulator: throttle]] hi"
    try:
        # A caller's mistake is not the model's failure.
        calls, raised = await _calls(app, runtime, "[[emulator: error=ValidationException]] hi")
        assert (calls, type(raised)) == (1, InvalidRequest)
        assert runtime.breakers.views() == []
        for _ in range(2):
            calls, raised = await _calls(app, runtime, throttle)
            assert (calls, type(raised)) == (2, RateLimited)  # a call fails the circuit once, after its retries
        calls, raised = await _calls(app, runtime, "hello")
        assert calls == 0, "an open circuit does not call Bedrock"
        assert isinstance(raised, CircuitOpen)
        assert raised.status == 503
        assert f"`{HAIKU}` is failing in us-east-1" in raised.message
        assert raised.headers["Retry-After"] == "1"  # at least a whole second
        [view] = runtime.breakers.views()
        assert (view.model, view.region, view.state, view.failures) == (HAIKU, "us-east-1", "open", 2)
        await asyncio.sleep(0.55)
        assert runtime.breakers.views()[0].state == "half_open"
        calls, raised = await _calls(app, runtime, throttle)
        assert (calls, type(raised)) == (1, RateLimited), "the probe gets one try, and its failure reopens"
        assert runtime.breakers.views()[0].state == "open"
        await asyncio.sleep(0.55)
        calls, raised = await _calls(app, runtime, "hello")
        assert (calls, raised) == (1, None)
        [view] = runtime.breakers.views()
        assert (view.state, view.failures, view.retry_in_s) == ("closed", 0, None)
    finally:
        await runtime.aclose()
