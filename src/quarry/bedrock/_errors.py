"""Bedrock's error answers, turned into Quarry's error hierarchy.

Bedrock names its errors in the `x-amzn-ErrorType` header (`ThrottlingException:http://…`) and in stream
exception frames (`throttlingException`); the message is in the JSON body.
"""

from __future__ import annotations

from typing import Any

import orjson

from quarry.errors import (
    InvalidRequest,
    ModelNotFound,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuarryError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["error_from_messages", "error_from_response", "error_from_stream", "is_retryable"]

_BY_CODE: dict[str, type[QuarryError]] = {
    "ValidationException": InvalidRequest,
    "AccessDeniedException": PermissionDenied,
    "ResourceNotFoundException": ModelNotFound,
    "ThrottlingException": RateLimited,
    "ServiceQuotaExceededException": RateLimited,
    "TooManyRequestsException": RateLimited,
    "ModelNotReadyException": UpstreamUnavailable,
    "ServiceUnavailableException": UpstreamUnavailable,
    "ModelTimeoutException": UpstreamTimeout,
    "InternalServerException": UpstreamError,
    "ModelErrorException": UpstreamError,
    "ModelStreamErrorException": UpstreamError,
}
# Bedrock refusing Quarry's own AWS identity is the operator's problem, never the caller's.
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    }
)
_INVALID_MODEL = "model identifier is invalid"
# Anthropic's error types (https://docs.anthropic.com/en/api/errors), as Bedrock's Messages endpoint may answer them.
_BY_ANTHROPIC_TYPE: dict[str, type[QuarryError]] = {
    "invalid_request_error": InvalidRequest,
    "permission_error": PermissionDenied,
    "not_found_error": NotFound,
    "request_too_large": PayloadTooLarge,
    "rate_limit_error": RateLimited,
    "overloaded_error": UpstreamUnavailable,
    "timeout_error": UpstreamTimeout,
    "api_error": UpstreamError,
    # Bedrock refusing Quarry's own credentials is the operator's problem: never the caller's 401.
    "authentication_error": UpstreamError,
}


def _by_status(status: int) -> type[QuarryError]:
    if status == 429:
        return RateLimited
    if status in (503, 502):
        return UpstreamUnavailable
    if status == 504:
        return UpstreamTimeout
    if 400 <= status < 500:
        return InvalidRequest
    return UpstreamError


def _message(body: bytes) -> str:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace").strip()[:500]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("Message") or "")
    return ""


def _build(code: str, status: int, message: str) -> QuarryError:
    if code in _CREDENTIAL_CODES:
        return UpstreamError(f"Bedrock refused Quarry's AWS credentials ({code}): {message}", code=code)
    kind = _BY_CODE.get(code) or _by_status(status)
    if kind is InvalidRequest and _INVALID_MODEL in message:
        kind = ModelNotFound
    text = message or f"Bedrock answered {code or status}"
    if kind is RateLimited:
        return RateLimited(f"Bedrock is throttling requests: {text}", code=code or None)
    return kind(text, code=code or None, param="model" if kind is ModelNotFound else None)


def error_from_response(status: int, error_type: str | None, body: bytes) -> QuarryError:
    """The error for a non-2xx Bedrock answer."""
    code = (error_type or "").split(":", 1)[0]
    return _build(code, status, _message(body))


def error_from_messages(status: int, error_type: str | None, body: bytes) -> QuarryError:
    """The error for a non-2xx answer of Bedrock's Messages endpoint. An answer in Anthropic's envelope
    (`{"type": "error", "error": {"type", "message"}}`) is kept whole in `relayed`, to be passed on as it came;
    an answer in AWS's (`{"message"}` and `x-amzn-ErrorType`) is read as any other Bedrock error."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) and data.get("type") == "error" else None
    code = (error_type or "").split(":", 1)[0]
    if not isinstance(error, dict) or not isinstance(error.get("type"), str) or code in _CREDENTIAL_CODES:
        return error_from_response(status, error_type, body)
    # Bedrock's own exception name, when it gives one, decides the kind and the retries as on its other routes.
    kind = _BY_CODE.get(code) or _BY_ANTHROPIC_TYPE.get(error["type"]) or _by_status(status)
    built = kind(str(error.get("message") or f"Bedrock answered {status}"), code=code or error["type"])
    built.relayed = (status, body)
    return built


def error_from_stream(exception_type: str, payload: bytes) -> QuarryError:
    """The error for an exception frame inside an event stream (`modelStreamErrorException`, …)."""
    code = exception_type[:1].upper() + exception_type[1:]
    return _build(code, 500, _message(payload))


def is_retryable(error: QuarryError) -> bool:
    """Throttling and transient server failures are worth another try; the caller's mistakes are not."""
    if isinstance(error, RateLimited | UpstreamUnavailable):
        return True
    # Bedrock's own ModelTimeoutException comes back at once and often passes; Quarry's own timeouts already
    # waited the whole allowance, so they are not repeated.
    if isinstance(error, UpstreamTimeout):
        return error.code == "ModelTimeoutException"
    return type(error) is UpstreamError and error.code in (None, "InternalServerException", "api_error")
