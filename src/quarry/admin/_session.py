"""The console's session: a cookie holding a session id, its CSRF token and when it began, signed with HMAC-SHA256
under a key derived from the data dir's secret and the admin key (so a new admin key ends every session). Nothing
in it is secret; the signature makes it unforgeable, and the server keeps the ids of sessions signed out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import orjson

__all__ = ["COOKIE", "Session", "Sessions"]

COOKIE = "quarry_console"
_MAX_ENDED = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str  # sent back in every form: a POST without it, or with another, is refused
    admin: bool  # False: a visitor's session before sign-in, which carries the sign-in form's token
    started: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and reads session cookies; remembers which sessions were signed out (until they would expire)."""

    def __init__(self, key: bytes, *, lifetime_s: float = 12 * 3600) -> None:
        self._key = key
        self.lifetime_s = lifetime_s
        self._ended: OrderedDict[str, float] = OrderedDict()

    def new(self, *, admin: bool) -> Session:
        return Session(secrets.token_urlsafe(18), secrets.token_urlsafe(24), admin, time.time())

    def encode(self, session: Session) -> str:
        body = _b64(
            orjson.dumps({"id": session.id, "csrf": session.csrf, "admin": session.admin, "t": session.started})
        )
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session a cookie holds; None if it is missing, forged, expired or signed out."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        try:
            expected = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            data = orjson.loads(_unb64(body))
            session = Session(str(data["id"]), str(data["csrf"]), bool(data["admin"]), float(data["t"]))
        except (ValueError, KeyError, TypeError):  # not base64, not JSON, not our fields: a forged cookie
            return None
        if time.time() - session.started > self.lifetime_s or session.id in self._ended:
            return None
        return session

    def end(self, session: Session) -> None:
        now = time.time()
        self._ended[session.id] = session.started + self.lifetime_s
        while self._ended and (len(self._ended) > _MAX_ENDED or next(iter(self._ended.values())) < now):
            self._ended.popitem(last=False)
