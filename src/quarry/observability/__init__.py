"""What an operator sees of a running gateway: Prometheus metrics, the JSON access log, logging set-up."""

from quarry.observability._access_log import ACCESS_LOGGER, AccessLog, access_record
from quarry.observability._logging import JsonFormatter, configure_logging
from quarry.observability._metrics import LATENCY_BUCKETS_S, Metrics
from quarry.observability._overhead import OVERHEAD_BUCKETS_S, OverheadHistogram
from quarry.observability._trace_middleware import TRACE_ID_HEADER, TraceMiddleware
from quarry.observability._tracing import Tracing, retrieval_attributes, traced

__all__ = [
    "ACCESS_LOGGER",
    "LATENCY_BUCKETS_S",
    "OVERHEAD_BUCKETS_S",
    "TRACE_ID_HEADER",
    "AccessLog",
    "JsonFormatter",
    "Metrics",
    "OverheadHistogram",
    "TraceMiddleware",
    "Tracing",
    "access_record",
    "configure_logging",
    "retrieval_attributes",
    "traced",
]
