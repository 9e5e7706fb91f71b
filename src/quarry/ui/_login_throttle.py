"""Throttling the toolbox's password sign-in: after a number of failures a user name, or a client address, is locked
out for a while, doubling with each further failure; a locked-out attempt is refused before any password is hashed.

Gradio's `auth` callable sees only the name and password, so this sits in front of Gradio's login route as a pure
ASGI middleware that knows the client's address and sees the answer.
"""

from __future__ import annotations

import math

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarry.throttle import Throttle, ThrottleKey

__all__ = ["LoginThrottle"]

_MAX_FORM_BYTES = 16 * 1024  # a login form is a name and a password


class LoginThrottle:
    """Pure ASGI, in front of the app that serves Gradio's `POST {path}/login`."""

    def __init__(self, app: ASGIApp, *, path: str, throttle: Throttle, per_user: int, per_address: int) -> None:
        self.app = app
        self.paths = {f"{path}/login", f"{path}/login/"}
        self.throttle = throttle
        self.per_user = per_user
        self.per_address = per_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > _MAX_FORM_BYTES:
                await _answer(send, 413, "The sign-in form is too large.")
                return
            if not message.get("more_body", False):
                break
        user = await _user_name(scope, body)
        address = scope["client"][0] if scope.get("client") else ""
        keys: list[ThrottleKey] = [("user", user, self.per_user), ("address", address, self.per_address)]
        refused = self.throttle.begin(keys)
        if refused is not None:
            kind, wait = refused
            who = "for this user" if kind == "user" else "from this address"
            seconds = math.ceil(wait)
            detail = f"Too many failed sign-ins {who}. Try again in {seconds} s."
            await _answer(send, 429, detail, {"retry-after": str(seconds)})
            return
        status = 0
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay, watch)
        if status == 200:  # Gradio answers 200 only when the password matched
            self.throttle.succeeded(keys)


async def _user_name(scope: Scope, body: bytes) -> str:
    """The form's `username`: Gradio's page posts multipart form data, other clients may post urlencoded."""

    async def once() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, once).form(max_files=0, max_fields=8)
    except (HTTPException, ValueError, KeyError):  # malformed: Gradio refuses it too; counted under the empty name
        return ""
    value = form.get("username")
    return value.strip()[:256] if isinstance(value, str) else ""


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    # Gradio's own login errors are `{"detail": …}`; its sign-in page shows that.
    body = orjson.dumps({"detail": detail})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
