"""Failures a prompt asks for, limited to one model or profile (`for=`), and a `Retry-After` on them: what a
gateway's fallbacks, failover and retries are tested with."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import EventStreamError

from tests.emulator.conftest import HAIKU, SONNET_45, user

SONNET_45_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_a_scoped_throttle_fails_only_the_models_it_names(runtime: Any) -> None:
    prompt = "[[emulator: throttle, for=us.*]] hello"
    with pytest.raises(runtime.exceptions.ThrottlingException):
        runtime.converse(modelId=SONNET_45, messages=[user(prompt)])
    answer = runtime.converse(modelId=SONNET_45_GLOBAL, messages=[user(prompt)])
    assert answer["output"]["message"]["content"] == [{"text": 'You said: "hello"'}]
    assert runtime.converse(modelId=HAIKU, messages=[user(prompt)])["stopReason"] == "end_turn"


def test_a_scoped_stream_error_spares_other_models(runtime: Any) -> None:
    prompt = "[[emulator: stream-error=ThrottlingException, for=anthropic.claude-3-haiku*]] hello"
    events = list(runtime.converse_stream(modelId=SONNET_45, messages=[user(prompt)])["stream"])
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert "metadata" in events[-1]
    with pytest.raises(EventStreamError) as failed:
        list(runtime.converse_stream(modelId=HAIKU, messages=[user(prompt)])["stream"])
    assert failed.value.response["Error"]["Code"] == "throttlingException"


def test_retry_after_is_sent_only_when_asked_for(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ThrottlingException) as asked:
        runtime.converse(modelId=HAIKU, messages=[user("[[emulator: throttle, retry-after=7]] hi")])
    assert asked.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"
    with pytest.raises(runtime.exceptions.ThrottlingException) as plain:
        runtime.converse(modelId=HAIKU, messages=[user("[[emulator: throttle]] hi")])
    assert "retry-after" not in plain.value.response["ResponseMetadata"]["HTTPHeaders"]


def test_the_messages_endpoint_honours_scope_and_retry_after(emulator_url: str) -> None:
    body = {
        "model": "us.anthropic.claude-opus-4-7",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "[[emulator: throttle, retry-after=3, for=us.*]] hi"}],
    }
    headers = {"x-api-key": "ABSK-test", "anthropic-version": "2023-06-01"}
    refused = httpx.post(f"{emulator_url}/anthropic/v1/messages", json=body, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    body["model"] = "global.anthropic.claude-opus-4-7"
    answered = httpx.post(f"{emulator_url}/anthropic/v1/messages", json=body, headers=headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["content"][0]["text"] == 'You said: "hi"'


def test_a_scope_needs_a_glob(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as refused:
        runtime.converse(modelId=HAIKU, messages=[user("[[emulator: throttle, for=]] hi")])
    assert "for= needs a model id glob" in refused.value.response["Error"]["Message"]
