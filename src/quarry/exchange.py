"""The per-request record: one API call as it happened (who, which model, tokens, time to first token, status).
The server's middleware opens it and closes it when the last byte has gone (for a stream, when the stream ends);
routes fill it in; what runs when it closes (usage records, metrics, the access log) reads it. Never prompt or
answer text. It sits below `quarry.api`, `quarry.auth` and `quarry.observability` and imports none of them (nor
`quarry.bedrock`: usage arrives as a plain mapping in the record's own names, mapped from Converse's or Anthropic's
once, by the translation core)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypedDict

from starlette.requests import Request

from quarry.errors import QuarryError

__all__ = [
    "Exchange",
    "TokenCounts",
    "current_exchange",
    "exchange_of",
    "note_finish",
    "note_guardrail_units",
    "note_service_tier",
    "note_upstream_wait",
    "serve_exchange",
]


class TokenCounts(TypedDict):
    """An answer's tokens in the record's names; `input_tokens` excludes the cached ones."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


@dataclass(slots=True)
class Exchange:
    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    api: str = ""  # e.g. "chat.completions", "messages"
    key_id: str | None = None
    key_name: str | None = None
    model: str | None = None  # the model that answered (or was last tried): usage and cost are counted against it
    model_asked: str | None = None  # the model asked for, when a fallback chain was tried (None: `model`)
    model_requested: str | None = None  # the name the caller asked for (an alias, an OpenAI name), set at admission
    stream: bool = False
    status: int = 0
    error_type: str | None = None
    error_code: str | None = None  # the error's code: tells Bedrock's throttling from a key's own rate limit
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    first_token_at: float | None = None
    finished_at: float | None = None
    headers: dict[str, str] = field(default_factory=dict)  # added to the response (e.g. x-ratelimit-*)
    # (model, tokens, service tier) → USD or None (no price): set at admission, so the cost follows the model and the
    # tier that answered.
    pricer: Callable[[str, TokenCounts, str | None], float | None] | None = None
    cost_usd: float | None = None  # fixed by the first `cost()` once the exchange is over
    on_close: list[Callable[[Exchange], None]] = field(default_factory=list)  # e.g. releasing a concurrency slot
    trace_id: str | None = None  # the request's OpenTelemetry trace (32 hex digits), when tracing is on
    # Time spent waiting on Bedrock (attempts, backoff between them, reading answers, streams open), noted by the
    # runtime through `note_upstream_wait`: what is left of the latency is Quarry's own overhead.
    upstream_s: float = 0.0
    max_tokens: int | None = None  # the output tokens the call was admitted for (its max_tokens, or the model's limit)
    finish_reason: str | None = None  # Bedrock's stop reason, as it named it (`end_turn`, `max_tokens`, …)
    upstream_model: str | None = None  # the model id of the last Bedrock attempt that answered (a fallback's)
    # Bedrock's service tier (`priority`, `default`, `flex`, `reserved`): the one asked for, set at admission, then
    # the one Bedrock says served the call. None: no tier asked and none reported, which Bedrock serves at `default`.
    service_tier: str | None = None
    # Text units Bedrock's guardrails judged for this call, by policy (GuardrailUsage's member names), and what they
    # cost (set at admission with `pricer`): guardrails are billed apart from the model's tokens.
    guardrail_units: dict[str, int] = field(default_factory=dict)
    guardrail_pricer: Callable[[Mapping[str, int]], float] | None = None

    @property
    def latency_s(self) -> float:
        return (self.finished_at or time.perf_counter()) - self.started

    @property
    def overhead_s(self) -> float:
        """Quarry's own time: the latency less the wait on Bedrock (never below 0: calls made in parallel can wait
        longer in sum than the request lasted)."""
        return max(0.0, self.latency_s - self.upstream_s)

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    def fail(self, error: Exception) -> None:
        self.error_type = type(error).__name__
        code = getattr(error, "code", None)
        self.error_code = code if isinstance(code, str) else None

    def failing(self, render: Callable[[QuarryError], bytes]) -> Callable[[QuarryError], bytes]:
        """A stream's error renderer that also notes the failure here."""

        def render_and_note(error: QuarryError) -> bytes:
            self.fail(error)
            return render(error)

        return render_and_note

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def counts(self) -> TokenCounts:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }

    def cost(self) -> float | None:
        """What the call cost in USD, from its tokens and the model that answered (None: no price, or not a model
        call). Computed once when the exchange is over, and read by the budget, the usage record and the metrics."""
        if self.finished_at is not None and self.cost_usd is not None:
            return self.cost_usd
        tokens = self.pricer(self.model, self.counts(), self.service_tier) if self.pricer and self.model else None
        guarded = self.guardrail_pricer(self.guardrail_units) if self.guardrail_pricer and self.guardrail_units else 0
        self.cost_usd = tokens + guarded if tokens is not None else (guarded or None)
        return self.cost_usd

    def note_guardrail_units(self, units: Mapping[str, int]) -> None:
        """Add the text units a guardrail judged (one ApplyGuardrail call, or one answer's trace)."""
        for name, count in units.items():
            self.guardrail_units[name] = self.guardrail_units.get(name, 0) + count

    def response_headers(self) -> dict[str, str]:
        """`headers`, and the call's cost when it is known as the response starts (not for a stream, whose tokens
        are counted after its headers are sent)."""
        cost = None if self.stream else self.cost()
        return self.headers if cost is None else {**self.headers, "x-quarry-cost-usd": f"{cost:.6f}"}

    def note_usage(self, usage: TokenCounts) -> None:
        """The answer's tokens so far (a stream's later counts replace its earlier ones)."""
        self.input_tokens = usage["input_tokens"]
        self.output_tokens = usage["output_tokens"]
        self.cache_read_tokens = usage["cache_read_tokens"]
        self.cache_write_tokens = usage["cache_write_tokens"]


# The Exchange of the request the running task serves, set by the server's middleware: how the Bedrock runtime, shared
# by every request, notes its wait on the right one. A ContextVar holds a value per task (and the tasks it starts),
# so no request ever sees another's; the default is None outside a request (the CLI, ingest jobs).
_current: ContextVar[Exchange | None] = ContextVar("quarry_exchange", default=None)


def current_exchange() -> Exchange | None:
    """The Exchange of the request being served by this task, if any."""
    return _current.get()


def serve_exchange(exchange: Exchange) -> Callable[[], None]:
    """Make `exchange` the current one for this task and those it starts (the middleware's call, once per request);
    the function returned puts back what was current before."""
    token = _current.set(exchange)
    return lambda: _current.reset(token)


def note_upstream_wait(seconds: float, model_id: str | None = None) -> None:
    """Add time spent waiting on Bedrock to the current request's Exchange (and the model that answered, if any)."""
    exchange = _current.get()
    if exchange is not None:
        exchange.upstream_s += seconds
        if model_id is not None:
            exchange.upstream_model = model_id


def note_finish(reason: object) -> None:
    """Bedrock's stop reason for the current request (a string; anything else is ignored)."""
    exchange = _current.get()
    if exchange is not None and isinstance(reason, str):
        exchange.finish_reason = reason


def note_guardrail_units(units: Mapping[str, int]) -> None:
    """Text units a guardrail judged for the current request (ApplyGuardrail's `usage`, or a trace's)."""
    exchange = _current.get()
    if exchange is not None and units:
        exchange.note_guardrail_units(units)


def note_service_tier(tier: object) -> None:
    """The service tier Bedrock says served the current request (a string; anything else is ignored)."""
    exchange = _current.get()
    if exchange is not None and isinstance(tier, str) and tier:
        exchange.service_tier = tier


def exchange_of(request: Request) -> Exchange:
    """The request's Exchange (a detached one when the app runs without the middleware, as in unit tests)."""
    exchange = request.scope.get("state", {}).get("exchange")
    if isinstance(exchange, Exchange):
        return exchange
    return Exchange(request_id="", method=request.method, path=request.url.path)
