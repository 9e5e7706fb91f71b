"""A streamed answer's body, read with one idle timer per stream instead of aiohttp's per-packet read timer.

aiohttp's `sock_read` timeout cancels and schedules a timer on every packet received. A paced stream (a model
writing 20 tokens a second) arrives one event per packet, so with 1,000 streams open that was a timer made and
dropped per event. Here aiohttp's timer is switched off once the answer has started, and one timer per stream looks
at the read only when it falls due: it ends the read with the same `SocketTimeoutError` aiohttp raises when the read
has waited `idle_s` with nothing arriving, and otherwise sets itself again for when that could first happen.
Time the gateway spends not reading (its client slow to take what was sent) is not counted, as aiohttp does not
count the time it pauses reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp.client_exceptions import SocketTimeoutError

__all__ = ["read_chunks"]

# How early the timer may fire and still count as due: loops round timers (uvloop to the millisecond), and a timer
# found a hair early would otherwise set itself again for the same moment.
_EARLY = 0.005


class _IdleWatch:
    __slots__ = ("_content", "_idle_s", "_loop", "_timer", "waiting_since")

    def __init__(self, content: aiohttp.StreamReader, idle_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._content = content
        self._idle_s = idle_s
        self.waiting_since = 0.0  # when the current read started waiting; 0 while not reading
        self._timer = self._loop.call_later(idle_s, self._tick)

    def close(self) -> None:
        self._timer.cancel()

    def _tick(self) -> None:
        content = self._content
        if content.exception() is not None or content.at_eof():
            return  # ended or broken off, even if the reader was dropped without being closed: nothing to watch
        now = self._loop.time()
        since = self.waiting_since
        if since and now - since >= self._idle_s - _EARLY:
            content.set_exception(SocketTimeoutError("Timeout on reading data from socket"))
            return
        self._timer = self._loop.call_at((since or now) + self._idle_s, self._tick)


async def read_chunks(response: aiohttp.ClientResponse, idle_s: float) -> AsyncIterator[bytes]:
    """The body's pieces as they arrive; a silence of `idle_s` while waiting for the next raises a TimeoutError."""
    connection = response.connection
    protocol = connection.protocol if connection is not None else None
    if protocol is not None:
        protocol.read_timeout = None  # from its next packet on, aiohttp schedules no timer per packet
    content = response.content
    watch = _IdleWatch(content, idle_s)
    clock = asyncio.get_running_loop().time
    try:
        while True:
            watch.waiting_since = clock()
            chunk = await content.readany()
            watch.waiting_since = 0.0
            if not chunk:
                return
            yield chunk
    finally:
        watch.close()
