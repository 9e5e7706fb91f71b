"""What the runtime tells an observer of each try of a Bedrock call: the seam tracing hangs its upstream spans on.

The runtime stays free of any tracing library: it calls `on_attempt` (when set) around each HTTP attempt, with what
was tried, and tells the watch how it ended. Retries and fallbacks are thus one watch each.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from quarry.errors import QuarryError

__all__ = ["Attempt", "AttemptHook", "AttemptWatch", "model_in_path", "unwatched"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one call: `path` as sent (`/model/<id>/converse`, `/anthropic/v1/messages`), the body (read only
    by an observer that records content), the try's number (1 first) and where it went."""

    path: str
    body: bytes
    number: int
    region: str
    endpoint_url: str

    @property
    def model_id(self) -> str | None:
        return model_in_path(self.path)

    @property
    def operation(self) -> str:
        """Bedrock's name for the call, the last segment of the path (`converse`, `invoke`, `messages`, …)."""
        return self.path.rsplit("/", 1)[-1]


class AttemptWatch(Protocol):
    def answered(self, status: int) -> None:
        """Bedrock answered with a success status (the body or stream is still to be read)."""

    def failed(self, error: QuarryError) -> None:
        """The try failed: an error answer, a timeout or no connection (retried or not)."""


AttemptHook = Callable[[Attempt], AbstractContextManager[AttemptWatch]]


class _Unwatched:
    def answered(self, status: int) -> None:
        pass

    def failed(self, error: QuarryError) -> None:
        pass


def unwatched() -> AbstractContextManager[AttemptWatch]:
    """The watch used when nothing observes attempts: does nothing."""
    return nullcontext(_Unwatched())


def model_in_path(path: str) -> str | None:
    """The model id of a `/model/<id>/<operation>` path (percent-decoded), else None."""
    if not path.startswith("/model/"):
        return None
    return unquote(path[len("/model/") :].rsplit("/", 1)[0])
