"""What the console plots live: per-second buckets of the last minutes (requests, tokens, errors by kind, latencies,
Quarry's own overhead), and per model the outcome of its recent calls (availability, throttling). Fed by an Exchange
listener, as the Prometheus metrics are; bounded in time and in size, owned by one app."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from quarry.exchange import Exchange

__all__ = ["ModelHealth", "Second", "Traffic", "percentile"]

_MAX_LATENCIES = 512  # per second: enough for p99 at any rate a console cares about
_MAX_MODELS = 500  # a model name the caller made up is not resolved, so this bounds what arrives
# A key's own limits refuse with these codes before Bedrock is asked (quarry.auth's limiter, budgets): they say
# nothing of the model. Any other RateLimited is Bedrock throttling.
_OWN_LIMITS = frozenset({"rate_limit_exceeded", "ServiceQuotaExceededException"})


@dataclass(slots=True)
class Second:
    at: int
    requests: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)  # Quarry's own time: the latency less the wait on Bedrock


@dataclass(slots=True)
class ModelHealth:
    """The last calls to one model: (epoch second, ok, throttled), newest last."""

    model: str
    outcomes: deque[tuple[float, bool, bool]] = field(default_factory=lambda: deque(maxlen=200))
    last_error: str | None = None
    last_error_at: float | None = None

    @property
    def calls(self) -> int:
        return len(self.outcomes)

    @property
    def availability(self) -> float | None:
        """Share of the recent calls that Bedrock answered (a throttle or an upstream failure counts against it)."""
        return sum(ok for _, ok, _ in self.outcomes) / len(self.outcomes) if self.outcomes else None

    @property
    def throttled(self) -> int:
        return sum(throttled for _, _, throttled in self.outcomes)

    @property
    def last_call_at(self) -> float | None:
        return self.outcomes[-1][0] if self.outcomes else None


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` from 0 to 1) of `values`."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


class Traffic:
    """The listener (`observe`) and what it keeps: `window_s` seconds of buckets, the health of each model."""

    def __init__(self, window_s: int = 900) -> None:
        self.window_s = window_s
        self._seconds: deque[Second] = deque()
        self._models: OrderedDict[str, ModelHealth] = OrderedDict()

    def observe(self, exchange: Exchange) -> None:
        if not exchange.api or exchange.api == "metrics":  # API calls only: not /health, the console or scrapes
            return
        now = time.time()
        second = self._bucket(int(now))
        second.requests += 1
        second.tokens += exchange.input_tokens + exchange.output_tokens
        second.tokens += exchange.cache_read_tokens + exchange.cache_write_tokens
        second.cost_usd += exchange.cost() or 0.0
        if exchange.error_type or exchange.status >= 400:
            kind = exchange.error_type or f"HTTP {exchange.status}"
            second.errors[kind] = second.errors.get(kind, 0) + 1
        if len(second.latencies) < _MAX_LATENCIES:
            second.latencies.append(exchange.latency_s)
            second.overheads.append(exchange.overhead_s)
        if exchange.model:
            self._note_model(exchange, now)

    def _bucket(self, at: int) -> Second:
        if self._seconds and self._seconds[-1].at == at:
            return self._seconds[-1]
        while self._seconds and self._seconds[0].at <= at - self.window_s:
            self._seconds.popleft()
        second = Second(at)
        self._seconds.append(second)
        return second

    def _note_model(self, exchange: Exchange, now: float) -> None:
        model = str(exchange.model)
        health = self._models.get(model)
        if health is None:
            health = self._models[model] = ModelHealth(model)
            while len(self._models) > _MAX_MODELS:
                self._models.popitem(last=False)
        self._models.move_to_end(model)
        if exchange.error_type in ("RateLimited", "BudgetExceeded") and exchange.error_code in _OWN_LIMITS:
            return  # refused by the key's own limits before Bedrock was asked
        throttled = exchange.error_type == "RateLimited"
        # Bedrock's side failed: throttled, or a 5xx. A caller's 4xx says nothing about the model's availability.
        failed = throttled or exchange.status >= 500
        health.outcomes.append((now, not failed, throttled))
        if exchange.error_type:
            health.last_error, health.last_error_at = exchange.error_type, now

    def seconds(self, last_s: int, now: float | None = None) -> list[Second]:
        """Every second of the last `last_s` (empty ones included), oldest first."""
        end = int(time.time() if now is None else now)
        kept = {second.at: second for second in self._seconds if second.at > end - last_s}
        return [kept.get(at) or Second(at) for at in range(end - last_s + 1, end + 1)]

    def models(self) -> dict[str, ModelHealth]:
        return dict(self._models)
