"""Bedrock's error shape: the status, `x-amzn-ErrorType: <Name>:<namespace>` and `{"message": …}`, which is what
botocore's rest-json parser reads (the header's name before the colon, the body's `message`) to raise each SDK's own
exception class: AccessDeniedException, ThrottlingException (retried by every SDK), ValidationException, …"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from quarry.auth import INCOMPLETE_SIGNATURE, INVALID_SIGNATURE, UNRECOGNIZED_CLIENT
from quarry.errors import (
    AuthenticationFailed,
    ModelNotFound,
    NotFound,
    PermissionDenied,
    QuarryError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["UNKNOWN_OPERATION", "error_response", "error_type"]

UNKNOWN_OPERATION = "UnknownOperationException"
_NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
# Bedrock's own exceptions (botocore's service models) and their statuses: an upstream error carrying one of these
# names goes back under it.
_STATUS_OF: dict[str, int] = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    UNKNOWN_OPERATION: 404,
    "ModelTimeoutException": 408,
    "ConflictException": 409,
    "ModelErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "TooManyRequestsException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
# A SigV4 signature refused, under the names AWS gives (quarry.auth's SigV4Verifier has the sources): the SDKs show
# them as the exception.
_SIGNATURE_ERRORS: dict[str, int] = {INVALID_SIGNATURE: 403, UNRECOGNIZED_CLIENT: 403, INCOMPLETE_SIGNATURE: 400}
# Most specific first: Quarry's own refusals in Bedrock's names.
_KINDS: tuple[tuple[type[QuarryError], str], ...] = (
    (AuthenticationFailed, "UnrecognizedClientException"),
    (PermissionDenied, "AccessDeniedException"),
    (ModelNotFound, "ValidationException"),  # Bedrock: "The provided model identifier is invalid."
    (NotFound, "ResourceNotFoundException"),
    (RateLimited, "ThrottlingException"),
    (UpstreamUnavailable, "ServiceUnavailableException"),
    (UpstreamTimeout, "ModelTimeoutException"),
    (UpstreamError, "InternalServerException"),
)


def error_type(error: QuarryError) -> tuple[int, str]:
    """The status and Bedrock exception name for an error."""
    if isinstance(error, AuthenticationFailed) and error.code in _SIGNATURE_ERRORS:
        return _SIGNATURE_ERRORS[error.code], error.code
    if error.code in _STATUS_OF and not isinstance(error, AuthenticationFailed):
        return _STATUS_OF[error.code], error.code
    for kind, name in _KINDS:
        if isinstance(error, kind):
            return (403 if kind is AuthenticationFailed else _STATUS_OF[name]), name
    return (500, "InternalServerException") if error.status >= 500 else (error.status, "ValidationException")


def error_response(error: QuarryError) -> Response:
    status, name = error_type(error)
    headers = {"x-amzn-ErrorType": name + _NAMESPACE, **error.headers}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return Response(orjson.dumps({"message": error.message}), status, headers, media_type="application/json")
