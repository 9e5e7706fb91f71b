"""The toolbox's streams in frames: a burst of deltas is one update, a delta after a pause is shown at once, and
closing the frames (the Stop button) closes the stream under them.

Plain functions that run their coroutine in a thread of its own: the browser tests of this package keep
Playwright's event loop running in the test thread, where no other loop may start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from quarry.ui._client import Delta
from quarry.ui._frames import in_frames


def _in_a_thread(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, test()).result()


async def _burst(count: int) -> AsyncIterator[Delta]:
    for index in range(count):
        yield Delta(text=f"{index} ", reasoning="r" if index % 2 else "")


def test_a_burst_is_joined_into_few_updates_and_nothing_is_lost() -> None:
    _in_a_thread(_a_burst)


async def _a_burst() -> None:
    shown = [delta async for delta in in_frames(_burst(700), Delta.joined)]
    assert "".join(d.text for d in shown) == "".join(f"{i} " for i in range(700))
    assert "".join(d.reasoning for d in shown) == "r" * 350
    assert len(shown) < 700 / 10  # a burst with no pause is a handful of frames, not 700 renders


def test_a_delta_after_a_pause_is_shown_by_itself() -> None:
    _in_a_thread(_a_pause)


async def _a_pause() -> None:
    async def paused() -> AsyncIterator[Delta]:
        for word in ("one", "two", "three"):
            yield Delta(text=word)
            await asyncio.sleep(0.3)  # far longer than a frame

    shown = [delta.text async for delta in in_frames(paused(), Delta.joined)]
    assert shown == ["one", "two", "three"]


def test_closing_the_frames_closes_the_stream() -> None:
    _in_a_thread(_closing)


async def _closing() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[Delta]:
        try:
            while True:
                yield Delta(text="x")
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    frames = in_frames(endless(), Delta.joined)
    first = await anext(frames)
    assert first.text.startswith("x")
    await frames.aclose()
    assert closed.is_set()
