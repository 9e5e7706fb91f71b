"""Bedrock's modelled exceptions, as values the emulator raises and renders the way AWS does."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDeniedException",
    "BedrockError",
    "InternalServerException",
    "MissingAuthenticationTokenException",
    "ModelErrorException",
    "ModelNotReadyException",
    "ModelStreamErrorException",
    "ModelTimeoutException",
    "ResourceNotFoundException",
    "ServiceQuotaExceededException",
    "ServiceUnavailableException",
    "ThrottlingException",
    "UnknownOperationException",
    "ValidationException",
    "error_by_name",
    "malformed_input",
]


class BedrockError(Exception):
    """An error Bedrock answers with: HTTP status, `x-amzn-ErrorType` code, and a JSON body with `message`."""

    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "The server encountered an internal error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        # Bedrock sends no Retry-After; a prompt's `retry-after=` directive adds one, as a proxy in front might.
        self.retry_after: float | None = None
        super().__init__(self.message)

    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers beyond AWS's own, from directives."""
        if self.retry_after is None:
            return []
        return [(b"retry-after", str(max(0, round(self.retry_after))).encode())]

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def stream_event(self) -> str:
        """The member name of this exception inside an event stream (`throttlingException`, …)."""
        return self.code[0].lower() + self.code[1:]


class ValidationException(BedrockError):
    status = 400
    default_message = "The request is invalid."


class AccessDeniedException(BedrockError):
    status = 403
    default_message = "You don't have access to the model with the specified model ID."


class MissingAuthenticationTokenException(BedrockError):
    status = 403
    default_message = "Missing Authentication Token"


class ResourceNotFoundException(BedrockError):
    status = 404
    default_message = "The requested resource could not be found."


class UnknownOperationException(BedrockError):
    status = 404
    default_message = "Unknown operation."


class ModelTimeoutException(BedrockError):
    status = 408
    default_message = "The model timed out while processing the request. Try again."


class ModelErrorException(BedrockError):
    status = 424
    default_message = "The model encountered an error while processing the request."


class ModelStreamErrorException(BedrockError):
    status = 424
    default_message = "The model stream was interrupted by an error."


class ThrottlingException(BedrockError):
    status = 429
    default_message = "Too many requests, please wait before trying again."


class ModelNotReadyException(BedrockError):
    status = 429
    default_message = "The model is not ready to serve inference requests. Try again later."


class ServiceQuotaExceededException(BedrockError):
    status = 400
    default_message = "Your request exceeds the service quota for your account. Try again later."


class InternalServerException(BedrockError):
    status = 500
    default_message = "The server encountered an internal error. Try again later."


class ServiceUnavailableException(BedrockError):
    status = 503
    default_message = "The service is temporarily unavailable. Try again later."


_BY_NAME: dict[str, type[BedrockError]] = {
    cls.__name__.lower(): cls
    for cls in (
        AccessDeniedException,
        InternalServerException,
        ModelErrorException,
        ModelNotReadyException,
        ModelStreamErrorException,
        ModelTimeoutException,
        ResourceNotFoundException,
        ServiceQuotaExceededException,
        ServiceUnavailableException,
        ThrottlingException,
        ValidationException,
    )
}


def error_by_name(name: str) -> type[BedrockError] | None:
    """The exception class for a name such as `ThrottlingException`, `throttling` or `modelTimeout`."""
    key = name.strip().lower()
    return _BY_NAME.get(key) or _BY_NAME.get(key + "exception")


def malformed_input(detail: str) -> ValidationException:
    """Bedrock's answer to a model body that breaks the model's JSON schema."""
    return ValidationException(f"Malformed input request: {detail}, please reformat your input and try again.")
