"""Anthropic's error envelope: `{"type": "error", "error": {"type", "message"}}` with Anthropic's status codes."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel
from starlette.responses import Response

from quarry.api._responses import json_response
from quarry.errors import (
    AuthenticationFailed,
    ClientDisconnected,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuarryError,
    RateLimited,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["AnthropicError", "error_body", "error_event", "error_response"]


class _AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error envelope, as `error_body` writes it: published in the OpenAPI document."""

    type: Literal["error"]
    error: _AnthropicErrorDetail


# Most specific first. Anthropic's clients retry 429, 529 and 5xx; Bedrock being unavailable is "overloaded".
_KINDS: tuple[tuple[type[QuarryError], int, str], ...] = (
    (AuthenticationFailed, 401, "authentication_error"),
    (PermissionDenied, 403, "permission_error"),
    (NotFound, 404, "not_found_error"),
    # Anthropic names no type of its own for these; their statuses still matter to clients and proxies.
    (MethodNotAllowed, 405, "invalid_request_error"),
    (UnsupportedMediaType, 415, "invalid_request_error"),
    (PayloadTooLarge, 413, "request_too_large"),
    (ClientDisconnected, 499, "invalid_request_error"),  # no one reads it; the status is for the log and metrics
    (RateLimited, 429, "rate_limit_error"),
    (UpstreamUnavailable, 529, "overloaded_error"),
    (UpstreamTimeout, 504, "timeout_error"),
    (UpstreamError, 500, "api_error"),
)


def _status_and_type(error: QuarryError) -> tuple[int, str]:
    for kind, status, name in _KINDS:
        if isinstance(error, kind):
            return status, name
    return (500, "api_error") if error.status >= 500 else (400, "invalid_request_error")


def error_body(error: QuarryError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _status_and_type(error)[1], "message": error.message}}


def error_response(error: QuarryError) -> Response:
    headers = dict(error.headers)
    if error.relayed is not None:
        # Bedrock's Messages endpoint answered in Anthropic's own envelope: passed on as it came, status and body,
        # since clients (Claude Code) match on the wording to retry or turn a feature off.
        status, body = error.relayed
        return Response(body, status, headers, media_type="application/json")
    status, _ = _status_and_type(error)
    if isinstance(error, RateLimited):
        headers["retry-after"] = str(max(1, round(error.retry_after)))
    return json_response(error_body(error), status, headers)


def error_event(error: QuarryError) -> bytes:
    """A failure after the stream has started, as Anthropic sends it."""
    return b"event: error\ndata: " + orjson.dumps(error_body(error)) + b"\n\n"
