"""Logging for `quarry serve`: everything on stderr as JSON lines, one object per line, for log collectors."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import orjson

from quarry.exchange import current_exchange
from quarry.observability._access_log import ACCESS_LOGGER, LineHandler

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}` (and `exception`), one line per record; a line logged while a request
    is served carries its `request_id` (and `trace_id` when traced), so its lines can be found together."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        exchange = current_exchange()
        if exchange is not None:
            line["request_id"] = exchange.request_id
            if exchange.trace_id is not None:
                line["trace_id"] = exchange.trace_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(stream: TextIO | None = None) -> None:
    """Quarry's and uvicorn's loggers to `stream` (stderr) as JSON; the access log's lines, already JSON, as they
    are. Called by the command, never at import: a program embedding Quarry keeps its own logging."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name, level in (("quarry", logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    access = logging.getLogger(ACCESS_LOGGER)
    access.handlers[:] = [LineHandler(stream or sys.stderr)]
    access.setLevel(logging.INFO)  # whether lines are written at all is `Settings.access_log`, read by the app
    access.propagate = False
