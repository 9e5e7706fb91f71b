"""Reading `application/vnd.amazon.eventstream` answers, CRC-checked frame by frame with botocore's pieces."""

from __future__ import annotations

import struct
from binascii import crc32
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import orjson
from botocore.eventstream import (
    ChecksumMismatch,
    EventStreamHeaderParser,
    InvalidHeadersLength,
    InvalidPayloadLength,
    ParserError,
)

from quarry.bedrock._converse_shapes import Document
from quarry.bedrock._errors import error_from_stream
from quarry.errors import UpstreamError

__all__ = ["EventDecoder", "FrameBuffer", "decode_events"]

_SLICED_AS_BYTES = 2048  # buffered bytes up to which frames are sliced as bytes rather than through a memoryview
_PRELUDE = struct.Struct("!III")  # total length, headers length, CRC of those 8 bytes
_UINT32 = struct.Struct("!I")
# botocore's limits (botocore.eventstream keeps them private): its decoder raises past them, and so does this one.
_MAX_HEADERS_LENGTH = 128 * 1024
_MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024

# Header blocks parsed so far, by their raw bytes, shared by every stream in the process: Bedrock's frames carry a
# handful of blocks (`:event-type`, `:content-type`, `:message-type`), the same in every stream. Blocks carrying ids
# or dates would all differ, so once full it stops remembering rather than growing; a block may be 128 KiB, so only
# small ones are kept (Bedrock's are under 100 bytes). The dicts are shared: read them, never change them.
_HEADERS_CACHED = 256
_HEADERS_CACHED_BYTES = 512  # the largest block remembered: 128 KiB of keys at most
_headers_by_block: dict[bytes, dict[str, Any]] = {}

Headers = dict[str, Any]
Payload = bytes | memoryview


def _headers(block: bytes) -> Headers:
    headers = _headers_by_block.get(block)
    if headers is None:
        # A parser of its own: botocore's keeps the block it is parsing on itself.
        headers = EventStreamHeaderParser().parse(block)
        if len(_headers_by_block) < _HEADERS_CACHED and len(block) <= _HEADERS_CACHED_BYTES:
            _headers_by_block[block] = headers
    return headers


class FrameBuffer:
    """The reads of one stream, handing out their complete frames as (headers, payload).

    Frames are checked as botocore's `EventStreamBuffer` checks them (prelude CRC and length limits as soon as a
    prelude has arrived, then the message CRC, then the headers), but in one loop per read: botocore spends some
    twenty Python calls a frame and raises StopIteration at the end of every read. botocore also moves past each
    frame by slicing the rest of its buffer into a new bytes object: quadratic in the frames a read brings, and a
    busy gateway reads many at once, which made that copy 15% of the gateway's CPU in the streaming benchmark. Here a
    read walks an offset, and only an unfinished frame's bytes are copied when the next read is added. A big read's
    payloads are memoryviews into it (orjson reads them as they are); headers are shared (see `_headers`).
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: Payload = b""

    def add_data(self, data: bytes) -> None:
        rest = self._data
        joined = bytes(rest) + data if rest else data
        # A read of a frame or two (a paced stream) is cheaper sliced as bytes; a bigger one is worth the view.
        self._data = memoryview(joined) if len(joined) > _SLICED_AS_BYTES else joined

    def frames(self) -> Iterator[tuple[Headers, Payload]]:
        """The complete frames held, in order; an unfinished one stays for the next read. A frame that fails a check
        raises botocore's error (a `ParserError`) when reached, after the frames before it."""
        data = self._data
        size = len(data)
        start = 0
        try:
            while size - start >= 12:
                total, headers_length, prelude_crc = _PRELUDE.unpack_from(data, start)
                computed = crc32(data[start : start + 8])
                if computed != prelude_crc:
                    raise ChecksumMismatch(prelude_crc, computed)
                if headers_length > _MAX_HEADERS_LENGTH:
                    raise InvalidHeadersLength(headers_length)
                if total - headers_length - 16 > _MAX_PAYLOAD_LENGTH:
                    raise InvalidPayloadLength(total - headers_length - 16)
                end = start + total
                if end > size:
                    break
                payload_start = start + 12 + headers_length
                if payload_start > end - 4:
                    # Lengths that contradict each other; botocore would read past the frame or fail in struct.
                    raise ParserError(f"Frame of {total} bytes cannot hold {headers_length} bytes of headers")
                (message_crc,) = _UINT32.unpack_from(data, end - 4)
                computed = crc32(data[start + 8 : end - 4], prelude_crc)
                if computed != message_crc:
                    raise ChecksumMismatch(message_crc, computed)
                headers = _headers(bytes(data[start + 12 : payload_start]))
                payload = data[payload_start : end - 4]
                start = end
                yield headers, payload
        finally:
            if start:
                self._data = data[start:]


class EventDecoder:
    """A stream's events from its reads, fed one read at a time: what `decode_events` yields, without an async
    generator between the connection and the caller (a stream's reader already is one; each level an event passes
    costs it a resume per event)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = FrameBuffer()

    def feed(self, chunk: bytes) -> Iterator[dict[str, Document]]:
        """The events `chunk` completes, as botocore shapes them; an exception frame is raised when reached, after
        the events before it."""
        buffer = self._buffer
        buffer.add_data(chunk)
        for headers, payload in buffer.frames():
            kind = headers.get(":message-type")
            if kind == "event":
                yield {headers[":event-type"]: orjson.loads(payload) if payload else {}}
            elif kind == "exception":
                raise error_from_stream(headers.get(":exception-type", "internalServerException"), bytes(payload))
            else:
                code = headers.get(":error-code", "InternalServerException")
                raise UpstreamError(f"Bedrock stream error {code}: {headers.get(':error-message', '')}", code=code)

    def end(self) -> Iterator[dict[str, Document]]:
        """Events left when the body ends: none (an unfinished frame is dropped, as botocore drops it)."""
        return iter(())


async def decode_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Document]]:
    """Events as botocore shapes them, `{"contentBlockDelta": {...}}` (Converse) or `{"chunk": {"bytes": …}}`
    (InvokeModel), for the caller to view as its shape; exception frames are raised."""
    decoder = EventDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
