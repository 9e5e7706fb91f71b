"""The per-request record: one API call as it happened (who, which model, tokens, time to first token, status).
The server's middleware opens it and closes it when the last byte has gone (for a stream, when the stream ends);
routes fill it in; what runs when it closes (usage records, metrics, the access log) reads it. Never prompt or
answer text. It sits below `quarry.api`, `quarry.auth` and `quarry.observability` and imports none of them (nor
`quarry.bedrock`: usage arrives as a plain mapping in Converse's or Anthropic's field names)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from quarry.errors import QuarryError

__all__ = ["Exchange", "exchange_of"]


@dataclass(slots=True)
class Exchange:
    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    api: str = ""  # e.g. "chat.completions", "messages"
    key_id: str | None = None
    key_name: str | None = None
    model: str | None = None
    stream: bool = False
    status: int = 0
    error_type: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    first_token_at: float | None = None
    finished_at: float | None = None
    headers: dict[str, str] = field(default_factory=dict)  # added to the response (e.g. x-ratelimit-*)
    on_close: list[Callable[[Exchange], None]] = field(default_factory=list)  # e.g. releasing a concurrency slot

    @property
    def latency_s(self) -> float:
        return (self.finished_at or time.perf_counter()) - self.started

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    def fail(self, error: Exception) -> None:
        self.error_type = type(error).__name__

    def failing(self, render: Callable[[QuarryError], bytes]) -> Callable[[QuarryError], bytes]:
        """A stream's error renderer that also notes the failure here."""

        def render_and_note(error: QuarryError) -> bytes:
            self.fail(error)
            return render(error)

        return render_and_note

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def converse_usage(self, usage: Mapping[str, Any]) -> None:
        """Usage in Bedrock's Converse shape (`inputTokens`, …)."""
        self.input_tokens = int(usage.get("inputTokens", 0))
        self.output_tokens = int(usage.get("outputTokens", 0))
        self.cache_read_tokens = int(usage.get("cacheReadInputTokens", 0))
        self.cache_write_tokens = int(usage.get("cacheWriteInputTokens", 0))

    def anthropic_usage(self, usage: Mapping[str, Any]) -> None:
        """Usage in Anthropic's shape; fields that are absent or null keep what was known."""
        for source, target in (
            ("input_tokens", "input_tokens"),
            ("output_tokens", "output_tokens"),
            ("cache_read_input_tokens", "cache_read_tokens"),
            ("cache_creation_input_tokens", "cache_write_tokens"),
        ):
            if usage.get(source) is not None:
                setattr(self, target, int(usage[source]))


def exchange_of(request: Request) -> Exchange:
    """The request's Exchange (a detached one when the app runs without the middleware, as in unit tests)."""
    exchange = request.scope.get("state", {}).get("exchange")
    if isinstance(exchange, Exchange):
        return exchange
    return Exchange(request_id="", method=request.method, path=request.url.path)
