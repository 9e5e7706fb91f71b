"""The toolbox's streams in frames: a burst of deltas is one update, a delta after a pause is shown at once, and
closing the frames (the Stop button) closes the stream under them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from quarry.ui._client import Delta
from quarry.ui._frames import in_frames


async def _burst(count: int) -> AsyncIterator[Delta]:
    for index in range(count):
        yield Delta(text=f"{index} ", reasoning="r" if index % 2 else "")


async def test_a_burst_is_joined_into_few_updates_and_nothing_is_lost() -> None:
    shown = [delta async for delta in in_frames(_burst(700), Delta.joined)]
    assert "".join(d.text for d in shown) == "".join(f"{i} " for i in range(700))
    assert "".join(d.reasoning for d in shown) == "r" * 350
    assert len(shown) < 700 / 10  # a burst with no pause is a handful of frames, not 700 renders


async def test_a_delta_after_a_pause_is_shown_by_itself() -> None:
    async def paused() -> AsyncIterator[Delta]:
        for word in ("one", "two", "three"):
            yield Delta(text=word)
            await asyncio.sleep(0.3)  # far longer than a frame

    shown = [delta.text async for delta in in_frames(paused(), Delta.joined)]
    assert shown == ["one", "two", "three"]


async def test_closing_the_frames_closes_the_stream() -> None:
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
