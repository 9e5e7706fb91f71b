"""The seam between requests and key stores: `authenticate(token) -> Principal`, or AuthenticationFailed."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Protocol

from quarry.auth._keys import ApiKey, KeyStore, hash_key
from quarry.auth._toolbox_credentials import ToolboxCredentials
from quarry.errors import AuthenticationFailed

__all__ = [
    "BOOTSTRAP_KEY_ID",
    "OPEN_ACCESS_KEY_ID",
    "Authenticator",
    "KeyAuthenticator",
    "OpenAccess",
    "Principal",
    "StaticKey",
    "bearer_token",
]

BOOTSTRAP_KEY_ID = "bootstrap"  # the admin key from QUARRY_API_KEY, which has no row in the key store
OPEN_ACCESS_KEY_ID = "local"  # every caller when the server has no key at all


_MISSING = "Missing API key: send it as `Authorization: Bearer <key>` or `x-api-key`."


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request acts for: a team key (with its scopes and limits), the bootstrap key (admin), or a
    toolbox user's derived credential (bound to `user`: its `X-Quarry-User` is always that)."""

    key_id: str
    name: str
    key: ApiKey | None = None
    admin: bool = False
    user: str | None = None


class Authenticator(Protocol):
    async def authenticate(self, token: str | None) -> Principal:
        """The principal for a presented key; raises AuthenticationFailed."""
        ...


class StaticKey:
    """One bootstrap key (`QUARRY_API_KEY`), compared in constant time."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()
        self._principal = Principal(key_id=BOOTSTRAP_KEY_ID, name="bootstrap", admin=True)

    async def authenticate(self, token: str | None) -> Principal:
        if token is None:
            raise AuthenticationFailed(_MISSING, code="missing_api_key")
        if not hmac.compare_digest(token.encode(), self._key):
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        return self._principal


class OpenAccess:
    """No key configured: every caller is let in (the server then binds loopback only)."""

    _principal = Principal(key_id=OPEN_ACCESS_KEY_ID, name="local")

    async def authenticate(self, token: str | None) -> Principal:
        return self._principal


class KeyAuthenticator:
    """The bootstrap key (admin) and the team keys in the database. Lookups are cached for `ttl_s` (a fraction
    of a second), so a key revoked on one instance is refused by every other one within that time.

    With no bootstrap key and no team key at all, every caller is let in, as `OpenAccess` (loopback only)."""

    def __init__(
        self,
        keys: KeyStore,
        bootstrap: str | None,
        *,
        ttl_s: float = 0.5,
        toolbox: ToolboxCredentials | None = None,
    ) -> None:
        self._keys = keys
        self._toolbox = toolbox
        self._bootstrap = StaticKey(bootstrap) if bootstrap else None
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._open: tuple[float, bool] = (0.0, False)  # (until, whether no key exists at all)

    async def _lookup(self, token: str) -> ApiKey | None:
        digest, now = hash_key(token), time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        key = await self._keys.find(token)
        if len(self._cache) > 10_000:  # bounded: unknown tokens must not grow it for ever
            self._cache.clear()
        self._cache[digest] = (now, key)
        return key

    async def _is_open(self) -> bool:
        if self._bootstrap is not None:
            return False
        until, is_open = self._open
        if time.monotonic() >= until:
            is_open = not await self._keys.any_active()
            self._open = (time.monotonic() + self._ttl_s, is_open)
        return is_open

    def _toolbox_user(self, token: str) -> Principal:
        user = self._toolbox.user_of(token) if self._toolbox is not None else None
        if user is None:  # refused even in keyless mode: a forged one must not pass for anyone
            raise AuthenticationFailed("Incorrect toolbox credential.", code="invalid_api_key")
        return Principal(key_id="toolbox", name=f"toolbox {user}", user=user)

    async def authenticate(self, token: str | None) -> Principal:
        if token and ToolboxCredentials.looks_like(token):
            return self._toolbox_user(token)
        if token and self._bootstrap is not None:
            try:
                return await self._bootstrap.authenticate(token)
            except AuthenticationFailed:
                pass
        key = await self._lookup(token) if token else None
        if key is None:
            if await self._is_open():
                return await OpenAccess().authenticate(token)
            if token is None:
                raise AuthenticationFailed(_MISSING, code="missing_api_key")
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        if key.revoked_at is not None:
            raise AuthenticationFailed(f"The API key `{key.prefix}…` has been revoked.", code="revoked_api_key")
        if not key.usable(time.time()):
            raise AuthenticationFailed(f"The API key `{key.prefix}…` has expired.", code="expired_api_key")
        return Principal(key_id=key.id, name=key.name, key=key)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
