"""Errors as AWS sends them, prompt directives, the global fault rate, and pacing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from quarry.emulator import EmulatorApp, EmulatorConfig
from tests.emulator.conftest import HAIKU, client, user


def test_missing_authorization_is_refused_like_aws(emulator_url: str) -> None:
    response = httpx.post(f"{emulator_url}/model/{HAIKU}/converse", json={"messages": [user("hi")]})
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException:")
    assert response.json() == {"message": "Missing Authentication Token"}


def test_unknown_operation_is_a_404(emulator_url: str) -> None:
    response = httpx.get(f"{emulator_url}/nothing-here", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert response.headers["x-amzn-errortype"].startswith("UnknownOperationException:")


@pytest.mark.parametrize(
    ("directive", "exception", "status"),
    [
        ("throttle", "ThrottlingException", 429),
        ("error=ModelTimeoutException", "ModelTimeoutException", 408),
        ("error=serviceUnavailable", "ServiceUnavailableException", 503),
        ("error=AccessDeniedException", "AccessDeniedException", 403),
        ("error=ModelNotReadyException", "ModelNotReadyException", 429),
        ("error=ModelErrorException", "ModelErrorException", 424),
    ],
)
def test_error_directives_raise_botocores_modelled_exceptions(
    runtime: Any, directive: str, exception: str, status: int
) -> None:
    modelled = getattr(runtime.exceptions, exception)
    with pytest.raises(modelled) as excinfo:
        runtime.converse(modelId=HAIKU, messages=[user(f"[[emulator: {directive}]] hello")])
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert excinfo.value.response["Error"]["Message"]


def test_directive_fires_only_from_the_last_user_message(runtime: Any) -> None:
    history = [user("[[emulator: throttle]]"), {"role": "assistant", "content": [{"text": "ok"}]}, user("again")]
    assert runtime.converse(modelId=HAIKU, messages=history)["stopReason"] == "end_turn"


def test_unknown_directive_is_a_validation_error(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as excinfo:
        runtime.converse(modelId=HAIKU, messages=[user("[[emulator: explode]]")])
    assert "unknown emulator directive 'explode'" in excinfo.value.response["Error"]["Message"]


def test_fault_rate_mixes_faults_with_answers_and_retries_recover(serve: Callable[[Any], Any]) -> None:
    import boto3
    from botocore.config import Config

    from tests.emulator.conftest import CREDENTIALS

    flaky = serve(EmulatorApp(EmulatorConfig(fault_rate=0.5, seed=7))).url
    runtime = client("bedrock-runtime", flaky)
    outcomes = []
    for _ in range(20):
        try:
            runtime.converse(modelId=HAIKU, messages=[user("hi")])
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert "ok" in outcomes
    assert set(outcomes) - {"ok"} <= {
        "ThrottlingException", "ServiceUnavailableException", "InternalServerException", "ModelTimeoutException"
    }  # fmt: skip
    assert len(set(outcomes)) > 1
    retries = Config(retries={"max_attempts": 12, "mode": "standard"}, connect_timeout=5, read_timeout=5)
    retrying = boto3.client(
        "bedrock-runtime", endpoint_url=flaky, region_name="us-east-1", config=retries, **CREDENTIALS
    )
    for _ in range(5):
        assert retrying.converse(modelId=HAIKU, messages=[user("hi")])["stopReason"] == "end_turn"
    runtime.close()
    retrying.close()


def test_every_request_faults_at_rate_one(serve: Callable[[Any], Any]) -> None:
    runtime = client("bedrock-runtime", serve(EmulatorApp(EmulatorConfig(fault_rate=1.0))).url)
    for _ in range(5):
        with pytest.raises(ClientError) as excinfo:
            runtime.converse(modelId=HAIKU, messages=[user("hi")])
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 408
    runtime.close()


def test_pacing_spaces_stream_events(serve: Callable[[Any], Any]) -> None:
    runtime = client(
        "bedrock-runtime", serve(EmulatorApp(EmulatorConfig(first_byte_ms=150, tokens_per_second=200))).url
    )
    started = time.perf_counter()
    events = list(runtime.converse_stream(modelId=HAIKU, messages=[user("[[emulator: words=20]]")])["stream"])
    elapsed = time.perf_counter() - started
    # Behaviour, not speed: a paced stream cannot be faster than its first-byte delay plus one interval per event.
    assert elapsed >= 0.150 + (len(events) - 1) / 200
    runtime.close()


def test_delay_directive_holds_the_answer(runtime: Any) -> None:
    started = time.perf_counter()
    response = runtime.converse(modelId=HAIKU, messages=[user("[[emulator: delay=200]] slow")])
    assert time.perf_counter() - started >= 0.2
    assert response["metrics"]["latencyMs"] >= 200
