"""decode_events(): Converse frames however the reads cut them, big reads included; CRCs checked; errors raised."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from botocore.eventstream import ChecksumMismatch

from quarry.bedrock._eventstream import decode_events
from quarry.emulator._eventstream import event_frame, exception_frame
from quarry.errors import RateLimited

EVENTS = [
    {"messageStart": {"role": "assistant"}},
    *({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": f" word{n}"}}} for n in range(300)),
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "end_turn"}},
    {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 300, "totalTokens": 303}}},
]
WIRE = b"".join(event_frame(kind, orjson.dumps(body)) for event in EVENTS for kind, body in event.items())


async def _reads(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 7, 100, 4096, len(WIRE)])
async def test_events_are_decoded_however_the_reads_cut_the_frames(size: int) -> None:
    assert [event async for event in decode_events(_reads(WIRE, size))] == EVENTS


async def test_an_exception_frame_is_raised_after_the_events_before_it() -> None:
    first = event_frame("messageStart", b'{"role":"assistant"}')
    throttled = exception_frame("throttlingException", b'{"message":"slow down"}')
    seen: list[dict[str, object]] = []

    async def read() -> None:
        async for event in decode_events(_reads(first + throttled + WIRE, 4096)):
            seen.append(event)

    with pytest.raises(RateLimited):
        await read()
    assert seen == [{"messageStart": {"role": "assistant"}}]


async def test_a_corrupted_frame_fails_its_checksum() -> None:
    broken = bytearray(WIRE)
    broken[len(WIRE) // 2] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        [_ async for _ in decode_events(_reads(bytes(broken), 4096))]
