"""Who may see a console page: a signed-in admin session, and for every POST the session's CSRF token in the form.
`console_page` wraps a page handler with both checks and reads the form (URL-encoded and bounded: the console needs
no multipart parser, which only the kb extra installs). Pages show the services' errors as messages themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quarry.admin._console import Console, console_of
from quarry.admin._html import html, page
from quarry.admin._session import COOKIE, Session

__all__ = ["Form", "Visit", "console_page", "read_form", "set_session"]

_MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Form:
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[-1].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [value.strip() for value in self.fields.get(name, []) if value.strip()]


@dataclass(frozen=True, slots=True)
class Visit:
    """One request to a console page: the console, the signed-in session, the form (POST only)."""

    request: Request
    console: Console
    session: Session
    form: Form


async def read_form(request: Request) -> Form | None:
    """The URL-encoded form of a POST; None when it is too large or not a form."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return None
    fields: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return None
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return Form(fields)


def set_session(response: Response, request: Request, console: Console, session: Session) -> Response:
    """The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure
    when the console is reached over HTTPS (uvicorn takes the scheme from a trusted proxy's X-Forwarded-Proto)."""
    response.set_cookie(
        COOKIE,
        console.sessions.encode(session),
        max_age=int(console.sessions.lifetime_s),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _forbidden(message: str) -> Response:
    return page("Refused", html('<div class="note">{}</div>', message), status=403)


Handler = Callable[[Visit], Awaitable[Response]]


def console_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        console = console_of(request)
        session = console.sessions.decode(request.cookies.get(COOKIE))
        form = Form({})
        if request.method == "POST":
            read = await read_form(request)
            if session is None or read is None or not read.get("csrf") or read.get("csrf") != session.csrf:
                return _forbidden("This form has expired or did not come from the console: reload the page.")
            form = read
        if session is None or not session.admin:
            if request.method == "POST":
                return _forbidden("Sign in to the console first.")
            return RedirectResponse("/console/sign-in", status_code=303)
        return await handler(Visit(request, console, session, form))

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
