"""One exception hierarchy for everything that can go wrong in a request; each API dialect renders it.

The class says what kind of failure it is (and so the HTTP status); `code` carries the upstream or
dialect-neutral error name, `param` the request field at fault when there is one.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BudgetExceeded",
    "ClientDisconnected",
    "Conflict",
    "InvalidRequest",
    "KnowledgeBaseNotAllowed",
    "KnowledgeBaseNotFound",
    "KnowledgeBaseReadOnly",
    "MethodNotAllowed",
    "ModelNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "QuarryError",
    "RateLimited",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class QuarryError(Exception):
    """Base of every error Quarry reports to a caller."""

    status = 500

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers: dict[str, str] = {}  # sent with the error response, whatever the dialect
        # The upstream's own error answer (status, body) when it is already in a dialect's envelope (Bedrock's
        # Messages endpoint answers in Anthropic's), for that dialect to pass on exactly as it came.
        self.relayed: tuple[int, bytes] | None = None


class InvalidRequest(QuarryError):
    """The caller sent something that cannot be served as sent."""

    status = 400


class ClientDisconnected(QuarryError):
    """The client went away before its request had arrived whole. Its doing, not the server's: nginx's 499 ("client
    closed request") in the access log and metrics, never a 500. Nobody reads the answer."""

    status = 499

    def __init__(self) -> None:
        super().__init__("The client disconnected before the whole request body arrived.")


class AuthenticationFailed(QuarryError):
    status = 401


class PermissionDenied(QuarryError):
    status = 403


class KnowledgeBaseNotAllowed(PermissionDenied):
    """The caller's key may not use this knowledge base (whichever route it came through)."""

    def __init__(self, name: str, *, param: str | None = None) -> None:
        message = f"This API key may not use the knowledge base `{name}`."
        super().__init__(message, param=param, code="knowledge_base_not_allowed")
        self.name = name


class KnowledgeBaseReadOnly(PermissionDenied):
    """The caller may read this knowledge base (it is shared with it) but not change it: that is for its owner."""

    def __init__(self, name: str) -> None:
        message = (
            f"The knowledge base `{name}` is shared with this API key to read; only its owner or the admin may "
            "change it."
        )
        super().__init__(message, code="knowledge_base_read_only")
        self.name = name


class NotFound(QuarryError):
    status = 404


class KnowledgeBaseNotFound(NotFound):
    """No knowledge base of that name, or none the caller may see: the same answer, so names do not leak."""

    def __init__(self, name: str, *, param: str | None = "name") -> None:
        super().__init__(f"There is no knowledge base named {name!r}.", param=param)
        self.name = name


class Conflict(QuarryError):
    """The thing to be created exists already."""

    status = 409


class MethodNotAllowed(QuarryError):
    """The path exists but not for this method; `Allow` names the methods it has (RFC 9110 15.5.6)."""

    status = 405

    def __init__(self, method: str, path: str, allowed: list[str]) -> None:
        message = f"{path} does not accept {method}; it accepts {', '.join(allowed)}."
        super().__init__(message, code="method_not_allowed")
        self.headers["Allow"] = ", ".join(allowed)


class ModelNotFound(NotFound):
    """No model, inference profile or alias of that name."""


class PayloadTooLarge(QuarryError):
    status = 413


class UnsupportedMediaType(QuarryError):
    """The body is declared as a type the route does not read; `Accept` names the one it does (RFC 9110 15.5.16)."""

    status = 415

    def __init__(self, message: str, *, accept: str) -> None:
        super().__init__(message, code="unsupported_media_type")
        self.headers["Accept"] = accept


class RateLimited(QuarryError):
    """Too many requests, here or upstream; `retry_after` is the suggested wait in seconds."""

    status = 429

    def __init__(
        self, message: str, *, retry_after: float = 1.0, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.retry_after = retry_after


class BudgetExceeded(RateLimited):
    """A key's spend or token budget for the period is used up, not worth retrying before `retry_after` (the
    period's end): OpenAI's `insufficient_quota` and Anthropic's `rate_limit_error` (429s), and on Bedrock's own
    routes its ServiceQuotaExceededException (a 400 no SDK retries), which `code` names as an upstream name does."""

    def __init__(self, message: str, *, budget: str, resets_at: str, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after, code="ServiceQuotaExceededException")
        self.budget = budget  # e.g. "usd_day"
        self.resets_at = resets_at  # ISO 8601, UTC
        # The SDKs' retry loops would only spend the caller's time: both honour x-should-retry.
        self.headers.update({"x-should-retry": "false", "x-quarry-budget": budget, "x-quarry-budget-reset": resets_at})


class UpstreamError(QuarryError):
    """Bedrock failed in a way that is not the caller's fault."""

    status = 502


class UpstreamUnavailable(UpstreamError):
    status = 503


class UpstreamTimeout(UpstreamError):
    status = 504
