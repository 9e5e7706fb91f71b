"""Reading `application/vnd.amazon.eventstream` answers with botocore's decoder (CRC-checked frames)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, cast

import orjson
from botocore.eventstream import EventStreamBuffer

from quarry.bedrock._converse_shapes import Document
from quarry.bedrock._errors import error_from_stream
from quarry.errors import UpstreamError

__all__ = ["FrameBuffer", "decode_events"]

# Distinct header blocks remembered per stream: Bedrock sends a handful (one per event type); a stream that sent
# more (headers carrying ids or dates) stops remembering new ones rather than growing.
_KNOWN_HEADERS = 32
_SLICED_AS_BYTES = 2048  # buffered bytes up to which frames are sliced as bytes rather than through a memoryview


class FrameBuffer(EventStreamBuffer):
    """botocore's frame buffer, holding a big read as a memoryview and parsing each distinct header block once.

    botocore moves past each frame by slicing the rest of its buffer into a new bytes object: quadratic in the frames
    a read brings, and a busy gateway reads many at once (the connection hands over all it holds), which made that
    copy 15% of the gateway's CPU in the streaming benchmark. Sliced as a memoryview, moving on copies nothing; only
    an unfinished frame's bytes are copied when the next read is added. Every frame of an event type carries the same
    header bytes (`:event-type`, `:content-type`, `:message-type`), and botocore's pure-Python header parser was 58%
    of decoding an event, so each distinct block is parsed once per stream. Prelude and message CRCs are still checked
    on every frame. A big read's payloads are memoryviews into it (orjson reads them as they are); headers are shared
    between frames, so they are read, never changed.
    """

    # botocore's own attributes, which botocore-stubs leave out.
    _data: Any
    _prelude: Any
    _header_parser: Any

    def __init__(self) -> None:
        super().__init__()
        self._data = b""
        self._known: dict[bytes, dict[str, Any]] = {}

    def add_data(self, data: bytes) -> None:
        rest = self._data
        joined = bytes(rest) + data if rest else data
        # A read of a frame or two (a paced stream) is cheaper sliced as bytes; a bigger one is worth the view.
        self._data = memoryview(joined) if len(joined) > _SLICED_AS_BYTES else joined

    def _parse_headers(self) -> dict[str, Any]:
        raw = bytes(self._data[12 : self._prelude.headers_end])  # after the prelude (lengths, CRC): 12 bytes
        headers = self._known.get(raw)
        if headers is None:
            headers = cast(dict[str, Any], self._header_parser.parse(raw))
            if len(self._known) < _KNOWN_HEADERS:
                self._known[raw] = headers
        return headers


async def decode_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Document]]:
    """Events as botocore shapes them, `{"contentBlockDelta": {...}}` (Converse) or `{"chunk": {"bytes": …}}`
    (InvokeModel), for the caller to view as its shape; exception frames are raised."""
    buffer = FrameBuffer()
    async for chunk in chunks:
        buffer.add_data(chunk)
        for message in buffer:
            headers = cast(dict[str, Any], message.headers)  # botocore-stubs mistype it
            kind = headers.get(":message-type")
            if kind == "event":
                yield {headers[":event-type"]: orjson.loads(message.payload) if message.payload else {}}
            elif kind == "exception":
                payload = bytes(message.payload)
                raise error_from_stream(headers.get(":exception-type", "internalServerException"), payload)
            else:
                code = headers.get(":error-code", "InternalServerException")
                raise UpstreamError(f"Bedrock stream error {code}: {headers.get(':error-message', '')}", code=code)
