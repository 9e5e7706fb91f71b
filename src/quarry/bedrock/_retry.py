"""When to try a Bedrock call again: jittered exponential backoff, an upstream's `Retry-After`, the call's deadline.

Backoff is "full jitter" (a uniform wait between 0 and base·2^attempt, capped), which spreads a crowd of throttled
callers best (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). Bedrock's runtime sends
no `Retry-After` today (its throttles carry only `x-amzn-ErrorType`; see epam/ai-dial-adapter-bedrock#371), but a
proxy in front of it, or a future Bedrock, may: when an answer carries one (seconds or an HTTP date, RFC 9110
§10.2.3; or Anthropic's and OpenAI's `retry-after-ms`), it replaces the jittered wait.

The deadline is the request's: how long its retries and fallbacks may go on, set by the API layer around a call
(`deadline_within`). It lives in a ContextVar because it belongs to the request's task and whatever that task
awaits, and every runtime method would otherwise need one more argument for it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from email.utils import parsedate_to_datetime

__all__ = ["backoff", "deadline_within", "remaining_s", "retry_after_s"]

_DEADLINE: ContextVar[float | None] = ContextVar("quarry_bedrock_deadline", default=None)


class deadline_within:  # used as a function: `with deadline_within(s):`
    """Calls made inside the block stop retrying once `seconds` have passed (an outer, earlier deadline stays).
    A class rather than a @contextmanager generator: it is entered on every call (a third of the cost)."""

    __slots__ = ("_at", "_token")

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    def __enter__(self) -> None:
        outer = _DEADLINE.get()
        self._token = _DEADLINE.set(self._at if outer is None or outer > self._at else outer)

    def __exit__(self, *exc: object) -> None:
        _DEADLINE.reset(self._token)


def remaining_s() -> float | None:
    """Seconds left before the current deadline (None: no deadline; 0 or less: passed)."""
    at = _DEADLINE.get()
    return None if at is None else at - time.monotonic()


def backoff(attempt: int, base_s: float, cap_s: float) -> float:
    """The wait before try `attempt + 1` (attempt counts from 1)."""
    return random.uniform(0, min(cap_s, base_s * 2**attempt))  # noqa: S311  # jitter, not cryptography


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait an answer asks for, from `retry-after-ms` or `Retry-After` (delta-seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
