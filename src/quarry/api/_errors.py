"""OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}` with the matching status. Quarry's own
APIs (knowledge bases, conversations, models, admin) answer in it too, so it is shared here rather than owned by
the OpenAI dialect: no dialect imports another."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from quarry.api._responses import json_response
from quarry.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    ModelNotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuarryError,
    RateLimited,
    UpstreamError,
)

__all__ = ["OpenAIError", "error_body", "error_response"]


class _OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """OpenAI's error envelope, as `error_body` writes it: published in the OpenAPI document."""

    error: _OpenAIErrorDetail


def _type(error: QuarryError) -> str:
    if isinstance(error, AuthenticationFailed):
        return "authentication_error"
    if isinstance(error, PermissionDenied):
        return "permission_error"
    if isinstance(error, BudgetExceeded):
        return "insufficient_quota"  # OpenAI's type and code when an account's quota is spent
    if isinstance(error, RateLimited):
        return "rate_limit_error"
    if isinstance(error, UpstreamError):
        return "upstream_error"
    return "server_error" if error.status >= 500 else "invalid_request_error"


def _code(error: QuarryError) -> str | None:
    if isinstance(error, ModelNotFound):
        return "model_not_found"
    if isinstance(error, PayloadTooLarge):
        return "request_too_large"
    if isinstance(error, BudgetExceeded):
        return "insufficient_quota"
    if isinstance(error, RateLimited):
        return "rate_limit_exceeded"
    return error.code


def error_body(error: QuarryError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": _type(error), "param": error.param, "code": _code(error)}}


def error_response(error: QuarryError) -> Response:
    headers = dict(error.headers)
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return json_response(error_body(error), error.status, headers)
