"""BedrockAgentRuntime (Retrieve from Bedrock Knowledge Bases) against the emulator over real sockets: results,
errors mapped to Quarry's, and the endpoint found the way every AWS client finds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from quarry.bedrock import BedrockAgentRuntime, resolve_aws
from quarry.emulator import EmulatorApp, EmulatorConfig
from quarry.errors import (
    InvalidRequest,
    ModelNotFound,
    NotFound,
    PermissionDenied,
    QuarryError,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from quarry.settings import BedrockSettings
from tests.conftest import set_aws_environment
from tests.emulator.test_retrieve import FORBIDDEN, KB, PASSAGES, THROTTLED, Call, Passages

KEYS = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret"}


def _agent(url: str, **settings: Any) -> BedrockAgentRuntime:
    return BedrockAgentRuntime(
        AioSession(), region="us-east-1", endpoint_url=url, settings=BedrockSettings(**settings), credentials=KEYS
    )


@pytest.fixture(scope="module")
def provider() -> Passages:
    return Passages()


@pytest.fixture(scope="module")
def knowledge_url(serve: Any, provider: Passages) -> str:
    url: str = serve(EmulatorApp(knowledge=provider)).url
    return url


async def test_retrieve_returns_bedrock_results(knowledge_url: str, provider: Passages) -> None:
    agent = _agent(knowledge_url)
    try:
        results = await agent.retrieve(KB, "paid leave days")
        assert results[0]["content"]["text"] == PASSAGES["s3://handbook/leave.md"]
        assert results[0]["location"]["s3Location"]["uri"] == "s3://handbook/leave.md"
        assert provider.calls[-1] == Call(KB, "paid leave days", 5, "SEMANTIC", None)
        query_filter = {"startsWith": {"key": "x-amz-bedrock-kb-source-uri", "value": "s3://handbook/"}}
        results = await agent.retrieve(
            KB, "employees paid and the", number_of_results=3, search_type="HYBRID", filter=query_filter
        )
        assert len(results) == 3
        assert provider.calls[-1] == Call(KB, "employees paid and the", 3, "HYBRID", query_filter)
    finally:
        await agent.aclose()


async def test_errors_become_quarry_errors(knowledge_url: str) -> None:
    agent = _agent(knowledge_url, max_attempts=1)
    try:
        with pytest.raises(NotFound) as missing:
            await agent.retrieve("NOSUCHKB00", "x")
        assert not isinstance(missing.value, ModelNotFound)
        assert missing.value.code == "ResourceNotFoundException"
        assert missing.value.message == "Knowledge base NOSUCHKB00 does not exist."
        with pytest.raises(InvalidRequest) as invalid:
            await agent.retrieve(KB, "x", number_of_results=101)  # botocore checks only the lower bound
        assert invalid.value.code == "ValidationException"
        assert "less than or equal to 100" in invalid.value.message
        with pytest.raises(InvalidRequest, match="numberOfResults"):
            await agent.retrieve(KB, "x", number_of_results=0)
        with pytest.raises(InvalidRequest, match="enum value set"):
            await agent.retrieve(KB, "x", search_type="KEYWORD")
        with pytest.raises(PermissionDenied, match="not authorized"):
            await agent.retrieve(FORBIDDEN, "x")
        with pytest.raises(RateLimited) as throttled:
            await agent.retrieve(THROTTLED, "x")
        assert throttled.value.code == "ThrottlingException"
    finally:
        await agent.aclose()


async def test_retries_ride_out_faults_that_surface_without_them(serve: Any) -> None:
    # A third of all requests fail with throttling or an internal error; the seed makes the run repeatable.
    url = serve(EmulatorApp(EmulatorConfig(fault_rate=0.3, seed=3), knowledge=Passages())).url
    impatient, patient = _agent(url, max_attempts=1), _agent(url, max_attempts=10)
    failures: list[QuarryError] = []
    try:
        for _ in range(10):
            try:
                await impatient.retrieve(KB, "disk encryption")
            except QuarryError as exc:
                failures.append(exc)
        for _ in range(4):  # botocore backs off between tries, so few calls are enough to see retries work
            results = await patient.retrieve(KB, "disk encryption")
            assert results[0]["location"]["s3Location"]["uri"] == "s3://handbook/security.md"
    finally:
        await impatient.aclose()
        await patient.aclose()
    assert failures, "the faults show without retries"
    assert {type(failure) for failure in failures} <= {RateLimited, UpstreamError}


async def test_unreachable_endpoint_is_unavailable() -> None:
    agent = _agent("http://127.0.0.1:9", max_attempts=1, connect_timeout_s=1)
    try:
        with pytest.raises(UpstreamUnavailable, match="cannot reach Bedrock Knowledge Bases"):
            await agent.retrieve(KB, "x")
    finally:
        await agent.aclose()


async def test_endpoint_variable_is_honoured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, knowledge_url: str
) -> None:
    set_aws_environment(monkeypatch, tmp_path, {"BEDROCK_AGENT_RUNTIME": knowledge_url})
    target = await resolve_aws(default_region="eu-west-1")
    assert target is not None
    assert target.agent_runtime_url == knowledge_url
    assert target.region == "us-east-1"
    assert target.runtime_url != knowledge_url  # only the one service was pointed elsewhere
    # The resolved session's own credentials (the environment's) sign the request.
    agent = BedrockAgentRuntime(
        target.session, region=target.region, endpoint_url=target.agent_runtime_url, settings=BedrockSettings()
    )
    try:
        results = await agent.retrieve(KB, "mentor first day", number_of_results=1)
    finally:
        await agent.aclose()
    assert results[0]["location"]["s3Location"]["uri"] == "s3://handbook/onboarding.md"


async def test_explicit_endpoint_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_aws_environment(monkeypatch, tmp_path, {"BEDROCK_AGENT_RUNTIME": "http://127.0.0.1:1"})
    target = await resolve_aws(default_region="us-east-1", agent_runtime_url="http://127.0.0.1:2")
    assert target is not None
    assert target.agent_runtime_url == "http://127.0.0.1:2"
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME")
    target = await resolve_aws(default_region="us-east-1")
    assert target is not None
    assert target.agent_runtime_url == "https://bedrock-agent-runtime.us-east-1.amazonaws.com"
