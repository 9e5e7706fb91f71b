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


class FrameBuffer(EventStreamBuffer):
    """botocore's frame buffer, parsing each distinct header block once per stream.

    Every frame of an event type carries the same header bytes (`:event-type`, `:content-type`, `:message-type`),
    and botocore's header parser, pure Python, was 58% of the decoder's time per event. Prelude and message CRCs
    are still checked on every frame; the parsed headers are shared between frames, so they are read, never changed.
    """

    # botocore's own attributes, which botocore-stubs leave out.
    _data: bytes
    _prelude: Any
    _header_parser: Any

    def __init__(self) -> None:
        super().__init__()
        self._known: dict[bytes, dict[str, Any]] = {}

    def _parse_headers(self) -> dict[str, Any]:
        raw = self._data[12 : self._prelude.headers_end]  # after the prelude (lengths and their CRC): 12 bytes
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
                raise error_from_stream(headers.get(":exception-type", "internalServerException"), message.payload)
            else:
                code = headers.get(":error-code", "InternalServerException")
                raise UpstreamError(f"Bedrock stream error {code}: {headers.get(':error-message', '')}", code=code)
