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

__all__ = ["ACCESS_LOGGER", "AccessLog", "access_record"]

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


class AccessLog:
    """An Exchange listener writing `access_record` as one JSON line (the log record's message)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)

    def __call__(self, exchange: Exchange) -> None:
        # Checked first so a disabled log costs one comparison, not a dict and a serialisation.
        logger = self.logger
        if logger.isEnabledFor(logging.INFO):
            # The record made and handled as `logger.info` would, less its search of the call stack for the caller's
            # file and line (a listener's, meaningless here): a third of this line's cost.
            line = orjson.dumps(access_record(exchange)).decode()
            logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, line, (), None, "AccessLog"))
