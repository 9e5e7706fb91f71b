"""The access log: one JSON line per finished exchange on the `quarry.access` logger.

Only what the Exchange holds is written — who, what, how long, how many tokens — so prompts, answers and API keys
cannot reach the log: the Exchange never has them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from quarry.exchange import Exchange

__all__ = ["ACCESS_LOGGER", "AccessLog", "LineHandler", "access_record"]

ACCESS_LOGGER = "quarry.access"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def access_record(exchange: Exchange, *, now: float | None = None) -> dict[str, Any]:
    """The fields of one access log line."""
    return {
        "time": round(now if now is not None else time.time(), 3),
        "request_id": exchange.request_id,
        "trace_id": exchange.trace_id,
        "method": exchange.method,
        "path": exchange.path,
        "status": exchange.status,
        "api": exchange.api or None,
        "key_id": exchange.key_id,
        "key_name": exchange.key_name,
        "model": exchange.model,
        "model_asked": exchange.model_asked,  # set when a fallback chain was tried: `model` is the one that answered
        "stream": exchange.stream,
        "service_tier": exchange.service_tier,  # Bedrock's tier that served the call (None: its default)
        "input_tokens": exchange.input_tokens,
        "output_tokens": exchange.output_tokens,
        "cache_read_tokens": exchange.cache_read_tokens,
        "cache_write_tokens": exchange.cache_write_tokens,
        "latency_ms": _ms(exchange.latency_s),
        "ttft_ms": _ms(exchange.ttft_s),
        "overhead_ms": _ms(exchange.overhead_s),  # the latency less the wait on Bedrock
        "error_type": exchange.error_type,
    }


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic in typeshed only
    """Writes each record's message as it is, one line (its formatter is not used: the access log's lines are
    already JSON). `write` takes a line without a LogRecord, as `emit` would write it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(record.getMessage())
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self.stream.write(line + self.terminator)
            self.flush()


class AccessLog:
    """An Exchange listener writing `access_record` as one JSON line (the log record's message)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)

    def __call__(self, exchange: Exchange) -> None:
        # Checked first so a disabled log costs one comparison, not a dict and a serialisation.
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        line = orjson.dumps(access_record(exchange)).decode()
        handler = _only_line_handler(logger)
        if handler is not None:
            # What `logger.info(line)` would come to, without the LogRecord and the walk through filters and
            # handlers that nothing here would use: two thirds of this listener's cost.
            handler.write(line)
            return
        # The record made and handled as `logger.info` would, less its search of the call stack for the caller's
        # file and line (a listener's, meaningless here).
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, line, (), None, "AccessLog"))


def _only_line_handler(logger: logging.Logger) -> LineHandler | None:
    """The logger's LineHandler when it is all a record would meet (as `quarry serve` configures the access log):
    no filter on the logger or the handler, the handler's level passed, no propagation to other handlers."""
    handlers = logger.handlers
    if len(handlers) != 1 or logger.propagate or logger.filters:
        return None
    handler = handlers[0]
    if type(handler) is not LineHandler or handler.filters or handler.level > logging.INFO:
        return None
    return handler
