"""What an operator sees of a running gateway: Prometheus metrics, the JSON access log, logging set-up."""

from quarry.observability._access_log import ACCESS_LOGGER, AccessLog, access_record
from quarry.observability._logging import JsonFormatter, configure_logging
from quarry.observability._metrics import LATENCY_BUCKETS_S, Metrics

__all__ = [
    "ACCESS_LOGGER",
    "LATENCY_BUCKETS_S",
    "AccessLog",
    "JsonFormatter",
    "Metrics",
    "access_record",
    "configure_logging",
]
