"""Reading `application/vnd.amazon.eventstream` answers with botocore's decoder (CRC-checked frames)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, cast

import orjson
from botocore.eventstream import EventStreamBuffer

from quarry.bedrock._converse_shapes import Document
from quarry.bedrock._errors import error_from_stream
from quarry.errors import UpstreamError

__all__ = ["decode_events"]


async def decode_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Document]]:
    """Events as botocore shapes them, `{"contentBlockDelta": {...}}` (Converse) or `{"chunk": {"bytes": …}}`
    (InvokeModel), for the caller to view as its shape; exception frames are raised."""
    buffer = EventStreamBuffer()
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
