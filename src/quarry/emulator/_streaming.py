"""Pacing of event streams: frames written as a model would emit them, or as fast as the socket takes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

import orjson

from quarry.emulator._errors import BedrockError
from quarry.emulator._eventstream import exception_frame

__all__ = ["paced"]

_BATCH = 64  # frames per write when unpaced: fewer, larger writes, as a busy real server's socket would see


def _exception_frame(error: BedrockError) -> bytes:
    return exception_frame(error.stream_event, orjson.dumps({"message": error.message}))


async def paced(
    frames: Iterable[bytes],
    *,
    tokens_per_second: float,
    error_after: int | None = None,
    error: BedrockError | None = None,
    render_error: Callable[[BedrockError], bytes] | None = None,
) -> AsyncIterator[bytes]:
    """Yield the encoded stream; with `error_after`, an error replaces frame number `error_after`: an event-stream
    exception frame, or what `render_error` makes of it (an SSE `error` event on the Messages route)."""
    interval = 1.0 / tokens_per_second if tokens_per_second > 0 else 0.0
    pending: list[bytes] = []
    for index, encoded in enumerate(frames):
        if error_after is not None and index >= error_after and error is not None:
            pending.append(render_error(error) if render_error else _exception_frame(error))
            break
        pending.append(encoded)
        if interval:
            yield b"".join(pending)
            pending.clear()
            await asyncio.sleep(interval)
        elif len(pending) >= _BATCH:
            yield b"".join(pending)
            pending.clear()
    if pending:
        yield b"".join(pending)
