"""The recent-request log: one row per API call, newest first, in a bounded ring of this app's memory. Who, what,
how it went and what it cost; never prompt or answer text (the Exchange holds none)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from quarry.exchange import Exchange

__all__ = ["RecentRequests", "RequestFilter", "RequestRow"]


class RequestRow(NamedTuple):
    """One call. A named tuple, immutable as a frozen dataclass but made at a fifth of its cost: one is made for
    every request, and a frozen dataclass sets each of its 18 fields through `object.__setattr__`."""

    at: float
    request_id: str
    key_id: str | None
    key_name: str | None
    route: str  # method and path
    api: str
    model_requested: str | None
    model: str | None
    status: int
    stream: bool
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_s: float
    ttft_s: float | None
    error_type: str | None
    overhead_s: float = 0.0  # Quarry's own time: the latency less the wait on Bedrock
    trace_id: str | None = None  # the request's trace (x-quarry-trace-id), when tracing is on


@dataclass(frozen=True, slots=True)
class RequestFilter:
    key: str = ""  # a key's name or id, or part of it
    model: str = ""  # part of the model asked or used
    outcome: str = ""  # "", "ok" or "error"
    error_type: str = ""

    def matches(self, row: RequestRow) -> bool:
        if self.key and self.key.lower() not in f"{row.key_name or ''} {row.key_id or ''}".lower():
            return False
        if self.model and self.model.lower() not in f"{row.model_requested or ''} {row.model or ''}".lower():
            return False
        failed = row.status >= 400 or row.error_type is not None
        if (self.outcome == "ok" and failed) or (self.outcome == "error" and not failed):
            return False
        return not self.error_type or self.error_type == (row.error_type or "")


class RecentRequests:
    """The listener (`observe`) and the last `size` rows."""

    def __init__(self, size: int = 2000) -> None:
        self._rows: deque[RequestRow] = deque(maxlen=size)

    def observe(self, exchange: Exchange) -> None:
        if not exchange.api or exchange.api == "metrics":
            return
        self._rows.append(
            RequestRow(
                at=time.time(),
                request_id=exchange.request_id,
                key_id=exchange.key_id,
                key_name=exchange.key_name,
                route=f"{exchange.method} {exchange.path}",
                api=exchange.api,
                model_requested=exchange.model_requested,
                model=exchange.model,
                status=exchange.status,
                stream=exchange.stream,
                input_tokens=exchange.input_tokens + exchange.cache_read_tokens + exchange.cache_write_tokens,
                output_tokens=exchange.output_tokens,
                cost_usd=exchange.cost(),
                latency_s=exchange.latency_s,
                ttft_s=exchange.ttft_s,
                error_type=exchange.error_type,
                overhead_s=exchange.overhead_s,
                trace_id=exchange.trace_id,
            )
        )

    def rows(self, where: RequestFilter | None = None, limit: int = 200) -> list[RequestRow]:
        """The newest rows first, at most `limit`, those `where` matches."""
        found = []
        for row in reversed(self._rows):
            if where is None or where.matches(row):
                found.append(row)
                if len(found) >= limit:
                    break
        return found

    def error_types(self) -> list[str]:
        return sorted({row.error_type for row in self._rows if row.error_type})
