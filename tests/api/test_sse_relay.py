"""relay(): upstream events to SSE bytes in order, keep-alives only in silences, backpressure on a slow response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from quarry.api._sse import relay
from quarry.errors import QuarryError, UpstreamError

KEEPALIVE = b": ka\n\n"


def _render(event: int) -> list[bytes]:
    return [f"data: {event}\n\n".encode()]


def _error(error: QuarryError) -> bytes:
    return f"data: error {error.message}\n\n".encode()


async def _paced(gaps: list[float]) -> AsyncIterator[int]:
    for number, gap in enumerate(gaps):
        await asyncio.sleep(gap)
        yield number


async def _collect(events: AsyncIterator[int], keepalive_s: float) -> list[bytes]:
    sse = relay(
        events,
        _render,
        finish=lambda: b"data: [DONE]\n\n",
        render_error=_error,
        keepalive_s=keepalive_s,
        keepalive=KEEPALIVE,
    )
    return [piece async for piece in sse]


async def test_keepalives_fill_silences_only() -> None:
    # A silence of 0.35 s with keep-alives due every 0.1 s gets some; events 10 ms apart get none between them.
    out = b"".join(await _collect(_paced([0.0, 0.35, 0.01, 0.01]), keepalive_s=0.1))
    assert out.startswith(b"data: 0\n\n")
    assert out.endswith(b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: [DONE]\n\n")
    assert 2 <= out.count(KEEPALIVE) <= 4


async def test_a_slow_response_gets_every_line_in_order() -> None:
    async def burst() -> AsyncIterator[int]:
        for number in range(2000):  # far more than the pipe holds: the reader waits for room
            yield number

    pieces: list[bytes] = []
    async for piece in relay(burst(), _render, finish=lambda: b"end", render_error=_error, keepalive_s=5.0):
        pieces.append(piece)
        await asyncio.sleep(0)  # a response slower than its upstream
    assert b"".join(pieces) == b"".join(_render(n)[0] for n in range(2000)) + b"end"


async def test_an_upstream_error_mid_stream_is_rendered_last() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise UpstreamError("gone")

    out = b"".join(await _collect(failing(), keepalive_s=5.0))
    assert out == b"data: 1\n\ndata: error gone\n\n"
