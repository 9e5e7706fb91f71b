"""Bedrock's Messages stream read one whole event at a time, however its chunks cut it, and kept as its bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from quarry.bedrock._sse import split_events

STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'data: {"type":"content_block_delta","index":0}\n\n'
    b'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n'
    b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}'
)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 7, 64, len(STREAM)])
async def test_whole_events_whatever_the_chunks(size: int) -> None:
    events = [event async for event in split_events(_chunks(STREAM, size))]
    assert [e.name for e in events] == ["message_start", "ping", "content_block_delta", "message_stop", "error"]
    assert b"".join(e.raw for e in events) == STREAM + b"\n\n"  # every byte kept; the unfinished last event closed
    assert events[0].data()["message"]["usage"] == {"input_tokens": 3}
    assert events[4].data()["error"]["type"] == "overloaded_error"
