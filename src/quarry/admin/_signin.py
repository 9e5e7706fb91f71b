"""Signing in to the console with the admin key (the bootstrap key, QUARRY_API_KEY) and signing out. A team key is
refused with a message saying which key is needed; failures are throttled per client address (the lockout doubles
with each further failure); a new session id is issued at sign-in, so a session planted before it is worth nothing."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quarry.admin._console import Console, console_of
from quarry.admin._guard import Visit, console_page, read_form, set_session
from quarry.admin._html import Html, html, page
from quarry.admin._session import COOKIE, Session
from quarry.errors import AuthenticationFailed
from quarry.throttle import ThrottleKey

__all__ = ["sign_in", "sign_in_form", "sign_out"]


def _visitor(request: Request, console: Console) -> Session:
    """The visitor's session (not signed in), kept if it is still good: its CSRF token guards the sign-in form."""
    session = console.sessions.decode(request.cookies.get(COOKIE))
    return session if session is not None else console.sessions.new(admin=False)


def _form(console: Console, session: Session, message: str = "", status: int = 200) -> Response:
    if not console.has_admin_key:
        body = Html(
            '<div class="signin"><h1>Quarry console</h1><div class="note">This server has no admin key, so nobody '
            "can sign in. Set <code>QUARRY_API_KEY</code> (or <code>api_key</code> in quarry.toml) and restart "
            "<code>quarry serve</code>.</div></div>"
        )
        return page("Sign in", body, status=status)
    note = html('<div class="note" role="alert">{}</div>', message) if message else Html("")
    body = html(
        '<form class="signin" method="post" action="/console/sign-in"><h1>Quarry console</h1>{}'
        '<label for="key">Admin key</label><input id="key" name="key" type="password" autocomplete="current-password"'
        ' autofocus required><input type="hidden" name="csrf" value="{}"><button type="submit">Sign in</button>'
        '<p class="muted">The admin key is the one in <code>QUARRY_API_KEY</code>. Team keys call the API; they '
        "cannot open the console.</p></form>",
        note,
        session.csrf,
    )
    return page("Sign in", body, status=status)


async def sign_in_form(request: Request) -> Response:
    console = console_of(request)
    session = _visitor(request, console)
    if session.admin:
        return RedirectResponse("/console/", status_code=303)
    return set_session(_form(console, session), request, console, session)


async def sign_in(request: Request) -> Response:
    console = console_of(request)
    session = console.sessions.decode(request.cookies.get(COOKIE))
    form = await read_form(request)
    if session is None or form is None or not form.get("csrf") or form.get("csrf") != session.csrf:
        fresh = console.sessions.new(admin=False)
        answer = _form(console, fresh, "The sign-in form had expired; try again.", status=403)
        return set_session(answer, request, console, fresh)
    if not console.has_admin_key:  # keyless, or team keys only: nobody is an admin, whatever is typed
        return _form(console, session, status=403)
    address = request.client.host if request.client else ""
    keys: list[ThrottleKey] = [("address", address, console.sign_in_failures)]
    refused = console.throttle.begin(keys)
    if refused is not None:
        seconds = math.ceil(refused[1])
        answer = _form(console, session, f"Too many failed sign-ins from this address. Try again in {seconds} s.", 429)
        answer.headers["retry-after"] = str(seconds)
        return answer
    try:
        principal = await console.authenticator.authenticate(form.get("key") or None)
    except AuthenticationFailed:
        return _form(console, session, "That is not a key this server knows.", status=401)
    if not principal.admin:
        message = (
            "This is a team key: it calls the API but cannot open the console. Sign in with the admin key "
            "(QUARRY_API_KEY)."
        )
        return _form(console, session, message, status=403)
    console.throttle.succeeded(keys)
    signed_in = console.sessions.new(admin=True)
    console.sessions.end(session)
    return set_session(RedirectResponse("/console/", status_code=303), request, console, signed_in)


@console_page
async def sign_out(visit: Visit) -> Response:
    visit.console.sessions.end(visit.session)
    answer = RedirectResponse("/console/sign-in", status_code=303)
    answer.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
    return answer
