"""Throttling the toolbox's password sign-in: after a number of failures a user name, or a client address, is locked
out for a while, doubling with each further failure; a locked-out attempt is refused before any password is hashed.

Gradio's `auth` callable sees only the name and password, so this sits in front of Gradio's login route as a pure
ASGI middleware that knows the client's address and sees the answer.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LoginThrottle", "Throttle"]

_MAX_FORM_BYTES = 16 * 1024  # a login form is a name and a password
_LONGEST_LOCKOUT_S = 3600.0
Key = tuple[str, str, int]  # (kind, value, failures allowed)


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class Throttle:
    """Failures per key (a user name, an address), in a table of at most `max_keys` (least recently used go)."""

    def __init__(self, *, lockout_s: float, forget_after_s: float = 900.0, max_keys: int = 10_000) -> None:
        self.lockout_s = lockout_s
        self.forget_after_s = forget_after_s
        self.max_keys = max_keys
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    def _record(self, kind: str, value: str, now: float) -> _Record:
        record = self._records.get((kind, value))
        if record is None or now - record.last > max(self.forget_after_s, record.locked_until - record.last):
            record = self._records[(kind, value)] = _Record()
        self._records.move_to_end((kind, value))
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)
        return record

    def begin(self, keys: list[Key], now: float | None = None) -> tuple[str, float] | None:
        """Start an attempt: None, counted as a failure until `succeeded`; or (kind, seconds to wait) if locked out.

        Counting it before the password is checked means a burst of concurrent attempts is throttled too.
        """
        now = time.monotonic() if now is None else now
        records = [(self._record(kind, value, now), allowed, kind) for kind, value, allowed in keys]
        for record, allowed, kind in records:
            if record.failures >= allowed and now < record.locked_until:
                return kind, record.locked_until - now
        for record, allowed, _ in records:
            record.failures += 1
            record.last = now
            if record.failures >= allowed:
                lockout = min(self.lockout_s * 2 ** min(record.failures - allowed, 30), _LONGEST_LOCKOUT_S)
                record.locked_until = max(record.locked_until, now + lockout)
        return None

    def succeeded(self, keys: list[Key]) -> None:
        """The attempt begun with `keys` signed in: the user's failures are forgiven, the address's is taken back."""
        for kind, value, allowed in keys:
            record = self._records.get((kind, value))
            if record is None:
                continue
            record.failures = 0 if kind == "user" else max(record.failures - 1, 0)
            if record.failures < allowed:
                record.locked_until = 0.0


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
        keys: list[Key] = [("user", user, self.per_user), ("address", address, self.per_address)]
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
