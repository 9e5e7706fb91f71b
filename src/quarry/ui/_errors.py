"""API failures turned into one readable sentence for the page: never a stack trace."""

from __future__ import annotations

import logging

import openai

from quarry.ui._sanitize import safe_markdown

__all__ = ["readable_error"]

log = logging.getLogger("quarry.ui")


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return exc.message


def _where(exc: openai.APIConnectionError) -> str:
    """The server a failed call went to (scheme, host and port only)."""
    request = getattr(exc, "request", None)
    if request is None:
        return "its address"
    url = request.url
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


def _waited(exc: openai.APITimeoutError) -> str:
    """How long the call waited for an answer (the client's read timeout: `ui.api_timeout_s`)."""
    request = getattr(exc, "request", None)
    timeout = (request.extensions.get("timeout") or {}) if request is not None else {}
    read = timeout.get("read")
    return f"within {read:g} s" if isinstance(read, int | float) else "in time"


def readable_error(exc: BaseException) -> str:
    """What went wrong and what the user can do about it, as Markdown safe to show (messages echo what was sent)."""
    return safe_markdown(_sentence(exc))


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, openai.RateLimitError):
        return f"Rate limited: the model is busy right now. Wait a moment and try again. ({_detail(exc)})"
    if isinstance(exc, openai.AuthenticationError):
        return (
            f"Quarry refused the credential ({_detail(exc)}). If this Quarry needs an API key, type yours in "
            "Settings → API key and press Save."
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return f"Access denied: this key or account may not use that model. ({_detail(exc)})"
    if isinstance(exc, openai.NotFoundError):
        return f"Not found: {_detail(exc)}"
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return f"The request was refused: {_detail(exc)}"
    if isinstance(exc, openai.APITimeoutError):
        return (
            f"The Quarry API at {_where(exc)} did not answer {_waited(exc)}: it is busy, stuck or unreachable. "
            "Try again in a moment; if it keeps happening, run `quarry doctor` where Quarry runs, or ask the "
            "operator (the wait is the setting `ui.api_timeout_s`)."
        )
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"Cannot reach the Quarry API at {_where(exc)}: nothing answers there. Start Quarry (`quarry serve`) "
            "or check the address the toolbox was given; `quarry doctor` says what is wrong. Then try again."
        )
    if isinstance(exc, openai.APIStatusError):
        return f"The model service failed (HTTP {exc.status_code}): {_detail(exc)} Try again in a moment."
    if isinstance(exc, openai.APIError):
        return f"The answer stopped with an error: {exc.message}"
    log.error("toolbox request failed", exc_info=exc)
    return "Something went wrong in the toolbox; the server log has the details."
