"""Streams relayed frame by frame: Bedrock's errors (before and inside a stream) reach the caller as Bedrock sent
them, and a caller who leaves ends the upstream request."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest
from botocore.exceptions import EventStreamError

from tests.api.bedrock.conftest import HAIKU, Client, Gateway


def _asking(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_bedrocks_throttling_is_passed_through(gateway: Gateway, bedrock: Client) -> None:
    key = gateway.key()
    client = bedrock("bedrock-runtime", key, gateway.url)
    with pytest.raises(client.exceptions.ThrottlingException) as raised:
        client.converse_stream(modelId=HAIKU, messages=_asking("[[emulator: throttle]] Hi."))
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert not error["Error"]["Message"].startswith("Bedrock is throttling")  # Bedrock's words, not Quarry's
    row = gateway.usage_of(key, requests=1)
    assert row["errors"] == 1


def test_an_error_inside_a_stream_arrives_as_bedrocks_exception_frame(gateway: Gateway, bedrock: Client) -> None:
    key = gateway.key()
    client = bedrock("bedrock-runtime", key, gateway.url)
    prompt = "[[emulator: stream-error=ModelStreamErrorException, stream-error-after=3]] Tell me a story."
    answer = client.converse_stream(modelId=HAIKU, messages=_asking(prompt))
    events = []
    with pytest.raises(EventStreamError) as raised:
        events.extend(answer["stream"])
    answer["stream"].close()  # botocore leaves the connection of a failed stream open
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert len(events) == 3
    assert gateway.usage_of(key, requests=1)["errors"] == 1


def test_a_caller_who_leaves_ends_the_upstream_stream(gateway: Gateway) -> None:
    key = gateway.key()
    streams = gateway.emulator.streams
    abandoned = streams.abandoned
    body = {"messages": _asking("[[emulator: words=2000, tps=100]] Tell me a long story.")}
    url = f"{gateway.url}/model/{quote(HAIKU, safe='')}/converse-stream"
    with httpx.stream("POST", url, json=body, headers={"Authorization": f"Bearer {key.secret}"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
        next(response.iter_raw())
    deadline = time.monotonic() + 10
    while streams.abandoned == abandoned and time.monotonic() < deadline:
        time.sleep(0.05)
    assert streams.abandoned == abandoned + 1
