"""Work that outlives its request (a background response): asyncio tasks by id, held until done, cancellable by id
on the instance that runs them, and cancelled together when the app stops; with, for work that streams, a `Feed`
of what it has sent so far, which clients follow from any point (and may leave and come back to)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

__all__ = ["FEED_KEEP_S", "BackgroundTasks", "Feed"]

FEED_KEEP_S = 300.0  # how long a finished task's feed can still be followed from the start


class Feed:
    """An append-only sequence of chunks (one stream event each: chunk n is event n)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._changed = asyncio.Condition()
        self.closed = False

    async def extend(self, chunks: list[bytes]) -> None:
        async with self._changed:
            self._chunks.extend(chunks)
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            self.closed = True
            self._changed.notify_all()

    async def follow(self, after: int = -1) -> AsyncIterator[bytes]:
        """The chunks after index `after`, as they come, until the feed is closed."""
        position = max(after + 1, 0)
        while True:
            async with self._changed:
                while not self.closed and len(self._chunks) <= position:
                    await self._changed.wait()
                chunks, closed = self._chunks[position:], self.closed
            position += len(chunks)
            for chunk in chunks:
                yield chunk
            if closed and position >= len(self._chunks):
                return


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._feeds: dict[str, Feed] = {}

    def start(self, task_id: str, work: Coroutine[Any, Any, None], feed: Feed | None = None) -> None:
        """Run `work` on the loop; held here until it ends (a task nobody references can vanish mid-flight). Its
        `feed`, if any, can be followed until FEED_KEEP_S after it ends."""
        task = asyncio.create_task(work, name=f"background {task_id}")
        self._tasks[task_id] = task
        if feed is not None:
            self._feeds[task_id] = feed

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(task_id, None)
            if feed is not None:
                asyncio.get_running_loop().call_later(FEED_KEEP_S, self._feeds.pop, task_id, None)

        task.add_done_callback(done)

    def feed(self, task_id: str) -> Feed | None:
        """The task's feed, if this instance runs (or recently ran) it."""
        return self._feeds.get(task_id)

    def cancel(self, task_id: str) -> bool:
        """Cancel the task, if this instance runs it."""
        task = self._tasks.get(task_id)
        return task is not None and task.cancel()

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._feeds.clear()
