"""Per-key rate limits: requests per minute and tokens per minute as token buckets (refilled continuously, a
minute's worth at most), and concurrent requests as a count. Tokens are estimated before the call and the
difference settled after it, so a bucket can go into debt that later requests wait out.

`InProcessLimiter` serves one instance; `RedisLimiter` (`_redis_limits.py`) shares the same rules between many.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

from quarry.auth._keys import Limits
from quarry.errors import RateLimited

__all__ = ["Grant", "InProcessLimiter", "Limiter", "refused"]


@dataclass(slots=True)
class Grant:
    """One admitted request: what it reserved, and what the caller may be told about its quota."""

    key_id: str
    limits: Limits
    tokens: int  # reserved (estimated) tokens
    grant_id: str = field(default_factory=lambda: secrets.token_hex(16))
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float = 0.0
    reset_tokens_s: float = 0.0

    def headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*` headers for the limits the key has."""
        headers: dict[str, str] = {}
        if self.limits.rpm is not None:
            headers["x-ratelimit-limit-requests"] = str(self.limits.rpm)
            headers["x-ratelimit-remaining-requests"] = str(max(0, self.remaining_requests or 0))
            headers["x-ratelimit-reset-requests"] = _duration(self.reset_requests_s)
        if self.limits.tpm is not None:
            headers["x-ratelimit-limit-tokens"] = str(self.limits.tpm)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, self.remaining_tokens or 0))
            headers["x-ratelimit-reset-tokens"] = _duration(self.reset_tokens_s)
        return headers


def _duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.3g}s"


def refused(grant: Grant, what: str, retry_after: float) -> RateLimited:
    error = RateLimited(
        f"Rate limit reached for this API key: {what}. Try again in {retry_after:.1f} s.",
        retry_after=max(retry_after, 0.001),
        code="rate_limit_exceeded",
    )
    error.headers = grant.headers()
    return error


class Limiter(Protocol):
    async def acquire(self, key_id: str, limits: Limits, tokens: int) -> Grant:
        """Admit a request reserving `tokens`, or raise RateLimited (with `retry_after` and headers)."""
        ...

    async def release(self, grant: Grant, used_tokens: int) -> None:
        """The request is over: free its concurrency slot and settle its tokens."""
        ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Bucket:
    capacity: float
    level: float
    at: float

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.capacity / 60)
        self.at = now

    def wait_for(self, amount: float) -> float:
        return max(0.0, (amount - self.level) * 60 / self.capacity)


class InProcessLimiter:
    """The rules in this process's memory: exact for one instance, and free."""

    def __init__(self) -> None:
        self._requests: dict[str, _Bucket] = {}
        self._tokens: dict[str, _Bucket] = {}
        self._active: dict[str, int] = {}

    def _bucket(self, buckets: dict[str, _Bucket], key_id: str, capacity: int, now: float) -> _Bucket:
        bucket = buckets.get(key_id)
        if bucket is None or bucket.capacity != capacity:  # a changed limit starts a fresh bucket
            bucket = buckets[key_id] = _Bucket(capacity, capacity, now)
        bucket.refill(now)
        return bucket

    async def acquire(self, key_id: str, limits: Limits, tokens: int) -> Grant:
        now = time.monotonic()
        grant = Grant(key_id, limits, tokens)
        requests = self._bucket(self._requests, key_id, limits.rpm, now) if limits.rpm else None
        budget = self._bucket(self._tokens, key_id, limits.tpm, now) if limits.tpm else None
        cost = min(tokens, limits.tpm or tokens)  # a request larger than the limit waits for a full bucket
        if requests is not None:
            grant.remaining_requests, grant.reset_requests_s = (
                math.floor(requests.level),
                requests.wait_for(requests.capacity),
            )
        if budget is not None:
            grant.remaining_tokens, grant.reset_tokens_s = math.floor(budget.level), budget.wait_for(budget.capacity)
        if requests is not None and requests.level < 1:
            raise refused(grant, f"{limits.rpm} requests per minute", requests.wait_for(1))
        if budget is not None and budget.level < cost:
            raise refused(grant, f"{limits.tpm} tokens per minute", budget.wait_for(cost))
        if limits.max_concurrency and self._active.get(key_id, 0) >= limits.max_concurrency:
            raise refused(grant, f"{limits.max_concurrency} requests at a time", 1.0)
        if requests is not None:
            requests.level -= 1
            grant.remaining_requests = math.floor(requests.level)
        if budget is not None:
            budget.level -= cost
            grant.remaining_tokens = math.floor(budget.level)
        grant.tokens = cost
        if limits.max_concurrency:
            self._active[key_id] = self._active.get(key_id, 0) + 1
        return grant

    async def release(self, grant: Grant, used_tokens: int) -> None:
        if grant.limits.max_concurrency:
            self._active[grant.key_id] = max(0, self._active.get(grant.key_id, 0) - 1)
        budget = self._tokens.get(grant.key_id)
        if budget is not None and grant.limits.tpm:
            budget.refill(time.monotonic())
            budget.level = min(budget.capacity, budget.level + grant.tokens - used_tokens)

    async def aclose(self) -> None:
        return None
