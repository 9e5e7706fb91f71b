"""Encoder for `application/vnd.amazon.eventstream` frames, the binary framing of Bedrock's streams.

A frame is: total length (u32), headers length (u32), CRC32 of those 8 bytes, headers, payload, and a CRC32 of
everything before it. Every header the emulator sends is a string (type 7). botocore's decoder reads them back.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

__all__ = ["encode_headers", "event_frame", "exception_frame", "frame"]

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING_TYPE = 7


def encode_headers(headers: tuple[tuple[str, str], ...]) -> bytes:
    out = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes((len(raw_name),)) + raw_name + bytes((_STRING_TYPE,)) + struct.pack(">H", len(raw_value))
        out += raw_value
    return bytes(out)


def frame(headers: bytes, payload: bytes) -> bytes:
    """One complete frame from already-encoded headers and a payload."""
    prelude = _PRELUDE.pack(16 + len(headers) + len(payload), len(headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(headers, zlib.crc32(head)))
    return b"".join((head, headers, payload, _CRC.pack(crc)))


@lru_cache(maxsize=64)
def _event_headers(event_type: str) -> bytes:
    return encode_headers(
        ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event"))
    )


@lru_cache(maxsize=32)
def _exception_headers(exception_type: str) -> bytes:
    return encode_headers(
        ((":exception-type", exception_type), (":content-type", "application/json"), (":message-type", "exception"))
    )


def event_frame(event_type: str, payload: bytes) -> bytes:
    """A `:message-type event` frame, e.g. `contentBlockDelta` with its JSON payload."""
    return frame(_event_headers(event_type), payload)


def exception_frame(exception_type: str, payload: bytes) -> bytes:
    """A `:message-type exception` frame; `exception_type` is the stream member name (`throttlingException`)."""
    return frame(_exception_headers(exception_type), payload)
