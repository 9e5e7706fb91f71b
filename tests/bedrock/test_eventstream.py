"""decode_events() and FrameBuffer: frames however the reads cut them, big reads included, decoded as botocore decodes
them; every CRC and length limit checked; exception and error frames raised; header parses shared but bounded."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
import pytest
from botocore.eventstream import (
    ChecksumMismatch,
    EventStreamBuffer,
    InvalidHeadersLength,
    InvalidPayloadLength,
    ParserError,
)

from quarry.bedrock import _eventstream
from quarry.bedrock._eventstream import FrameBuffer, decode_events
from quarry.emulator._eventstream import encode_headers, event_frame, exception_frame, frame
from quarry.errors import RateLimited, UpstreamError

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


def _frames(buffer: FrameBuffer) -> list[tuple[dict[str, Any], bytes]]:
    return [(headers, bytes(payload)) for headers, payload in buffer.frames()]


def _botocore_frames(data: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """The reference: botocore's own buffer over the same bytes."""
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(cast(dict[str, Any], message.headers), bytes(message.payload)) for message in buffer]  # stubs mistype it


SHORT = [
    event_frame("messageStart", b'{"role":"assistant"}'),
    event_frame("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"hi"}}'),
    event_frame("messageStop", b'{"stopReason":"end_turn"}'),
]


def test_every_byte_of_a_frame_is_checked() -> None:
    # Prelude (lengths and CRC), headers, payload and message CRC: any byte flipped fails a checksum, even a length
    # that would make the frame look unfinished (the prelude CRC is checked before waiting for the rest).
    first, second = SHORT[0], SHORT[1]
    for offset in range(len(second)):
        broken = bytearray(second)
        broken[offset] ^= 0x01
        buffer = FrameBuffer()
        buffer.add_data(first + bytes(broken))
        frames = buffer.frames()
        assert next(frames)[0][":event-type"] == "messageStart"  # the frame before the broken one comes first
        with pytest.raises(ChecksumMismatch):
            next(frames)


@pytest.mark.parametrize("where", [3, 10, 40, -2])  # total length, prelude CRC, payload, message CRC
async def test_a_flipped_byte_in_a_paced_read_fails_its_checksum(where: int) -> None:
    broken = bytearray(SHORT[1])
    broken[where] ^= 0x80
    with pytest.raises(ChecksumMismatch):
        [_ async for _ in decode_events(_reads(SHORT[0] + bytes(broken), len(SHORT[0])))]


def test_a_frame_split_at_any_byte_across_two_reads_decodes_as_botocore_does() -> None:
    wire = b"".join(SHORT)
    expected = _botocore_frames(wire)
    assert [headers[":event-type"] for headers, _ in expected] == ["messageStart", "contentBlockDelta", "messageStop"]
    for cut in range(1, len(wire)):
        buffer = FrameBuffer()
        buffer.add_data(wire[:cut])
        seen = _frames(buffer)
        buffer.add_data(wire[cut:])
        assert seen + _frames(buffer) == expected, cut


def test_many_frames_in_one_read_decode_as_botocore_does() -> None:
    wire = WIRE * 8  # over the size read through a memoryview
    buffer = FrameBuffer()
    buffer.add_data(wire)
    frames = list(buffer.frames())
    assert [(headers, bytes(payload)) for headers, payload in frames] == _botocore_frames(wire)
    assert isinstance(frames[0][1], memoryview)  # not a copy per frame
    assert _frames(buffer) == []  # nothing left over, nothing handed out twice


def _prelude(total: int, headers_length: int) -> bytes:
    lengths = struct.pack("!II", total, headers_length)
    return lengths + struct.pack("!I", zlib.crc32(lengths))


@pytest.mark.parametrize(
    ("prelude", "error"),
    [
        (_prelude(200_000, 128 * 1024 + 1), InvalidHeadersLength),
        (_prelude(24 * 1024 * 1024 + 100, 10), InvalidPayloadLength),
    ],
)
def test_lengths_past_botocores_limits_are_refused_as_soon_as_the_prelude_arrives(
    prelude: bytes, error: type[Exception]
) -> None:
    buffer = FrameBuffer()
    buffer.add_data(prelude)
    with pytest.raises(error):
        list(buffer.frames())
    with pytest.raises(error):  # botocore refuses the same bytes the same way
        _botocore_frames(prelude)


def test_a_frame_too_short_for_its_headers_is_refused() -> None:
    head = _prelude(20, 10)
    body = b"\0" * 4
    wire = head + body + struct.pack("!I", zlib.crc32(body, zlib.crc32(head[8:], zlib.crc32(head[:8]))))
    buffer = FrameBuffer()
    buffer.add_data(wire)
    with pytest.raises(ParserError, match="cannot hold"):  # not some other error from reading past the frame
        list(buffer.frames())


async def test_an_error_frame_is_raised_with_its_code() -> None:
    headers = encode_headers(
        ((":message-type", "error"), (":error-code", "InternalFailure"), (":error-message", "it broke"))
    )
    with pytest.raises(UpstreamError, match="InternalFailure: it broke") as raised:
        [_ async for _ in decode_events(_reads(SHORT[0] + frame(headers, b""), 4096))]
    assert raised.value.code == "InternalFailure"


async def test_header_blocks_are_parsed_once_for_every_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_eventstream, "_headers_by_block", {})
    one, two = FrameBuffer(), FrameBuffer()
    one.add_data(SHORT[1])
    two.add_data(SHORT[1])
    [(first, _)], [(second, _)] = list(one.frames()), list(two.frames())
    assert first == {":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"}
    assert second is first  # the second stream's frame reused the first one's parse
    assert len(_eventstream._headers_by_block) == 1


async def test_the_header_cache_stays_bounded_and_decoding_goes_on_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_eventstream, "_headers_by_block", {})
    count = _eventstream._HEADERS_CACHED + 50
    # Headers that differ on every frame, as ids or dates would.
    wire = b"".join(event_frame(f"event{n}", b'{"n":%d}' % n) for n in range(count))
    events = [event async for event in decode_events(_reads(wire, 1000))]
    assert events == [{f"event{n}": {"n": n}} for n in range(count)]
    assert len(_eventstream._headers_by_block) == _eventstream._HEADERS_CACHED
    assert [event async for event in decode_events(_reads(wire, 1000))] == events  # cached or not, the same


async def test_a_big_header_block_is_decoded_but_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_eventstream, "_headers_by_block", {})
    big = event_frame("x" * (_eventstream._HEADERS_CACHED_BYTES + 1), b'{"n":1}')
    for _ in range(2):
        assert [event async for event in decode_events(_reads(big, 4096))] == [{"x" * 513: {"n": 1}}]
    assert _eventstream._headers_by_block == {}
