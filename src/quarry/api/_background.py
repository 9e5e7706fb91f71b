"""Work that outlives its request (a background response): asyncio tasks by id, held until done, cancellable by id
on the instance that runs them, and cancelled together when the app stops."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks"]


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, task_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on the loop; held here until it ends (a task nobody references can vanish mid-flight)."""
        task = asyncio.create_task(work, name=f"background {task_id}")
        self._tasks[task_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(task_id, None))

    def cancel(self, task_id: str) -> bool:
        """Cancel the task, if this instance runs it."""
        task = self._tasks.get(task_id)
        return task is not None and task.cancel()

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
