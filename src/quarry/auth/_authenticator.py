"""The seam between requests and key stores: `authenticate(token) -> Principal`, or AuthenticationFailed."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from quarry.errors import AuthenticationFailed

__all__ = ["Authenticator", "OpenAccess", "Principal", "StaticKey", "bearer_token"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request acts for."""

    key_id: str
    name: str


class Authenticator(Protocol):
    async def authenticate(self, token: str | None) -> Principal:
        """The principal for a presented key; raises AuthenticationFailed."""
        ...


class StaticKey:
    """One bootstrap key (`QUARRY_API_KEY`), compared in constant time."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()
        self._principal = Principal(key_id="bootstrap", name="bootstrap")

    async def authenticate(self, token: str | None) -> Principal:
        if token is None:
            raise AuthenticationFailed(
                "Missing API key: send it as `Authorization: Bearer <key>`.", code="missing_api_key"
            )
        if not hmac.compare_digest(token.encode(), self._key):
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        return self._principal


class OpenAccess:
    """No key configured: every caller is let in (the server then binds loopback only)."""

    _principal = Principal(key_id="local", name="local")

    async def authenticate(self, token: str | None) -> Principal:
        return self._principal


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
