"""Streamed pieces gathered into frames: at most one screen update per frame, however fast the model writes.

Every update Gradio sends re-renders the whole message in the browser (its Markdown, its code blocks), so an
answer of 700 small deltas cost 700 renders of a growing text: seconds of a busy page for nothing a reader can see.
A piece that arrives after a quiet spell is shown at once; pieces that follow within a frame wait for its end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

__all__ = ["FRAME_S", "in_frames"]

FRAME_S = 0.05  # 20 updates a second: smooth to the eye, a fraction of the renders

T = TypeVar("T")


async def in_frames(pieces: AsyncIterator[T], join: Callable[[T, T], T], frame_s: float = FRAME_S) -> AsyncIterator[T]:
    """`pieces`, with those that arrive within one frame of the last one shown joined into one by `join`."""
    loop = asyncio.get_running_loop()
    shown_at = float("-inf")
    held: T | None = None
    upcoming: asyncio.Future[T] | None = None
    try:
        while True:
            if upcoming is None:
                upcoming = asyncio.ensure_future(anext(pieces))
            wait = None if held is None else max(0.0, shown_at + frame_s - loop.time())
            done, _ = await asyncio.wait({upcoming}, timeout=wait)
            if done:
                try:
                    piece = upcoming.result()
                except StopAsyncIteration:
                    break
                finally:
                    upcoming = None
                held = piece if held is None else join(held, piece)
                if loop.time() - shown_at < frame_s:
                    continue  # within the frame: held until it ends, or until a piece comes after it
            if held is not None:
                yield held
            held, shown_at = None, loop.time()
        if held is not None:
            yield held
    finally:
        if upcoming is not None:  # closed early (the Stop button): the pending read goes, then the stream
            upcoming.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await upcoming
        aclose = getattr(pieces, "aclose", None)
        if aclose is not None:
            await aclose()
