"""The running toolbox's state: its configuration, one pooled HTTP client, and each session's identity."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2

from quarry.ui._client import Efforts, ToolboxClient

__all__ = ["CredentialIssuer", "Session", "Toolbox", "ToolboxConfig", "browser_id_for", "user_id"]

_SAFE_USER = re.compile(r"[A-Za-z0-9._@+=-]{1,120}")
_MAX_TYPED_KEYS = 10_000  # users' typed keys kept in memory; past this the oldest are forgotten


class CredentialIssuer(Protocol):
    """What derives a signed-in user's credential (quarry.auth's ToolboxCredentials, handed in by the server: the
    toolbox is a client of the HTTP API and imports neither auth nor the store)."""

    def issue(self, user: str) -> str: ...


@dataclass(frozen=True, slots=True)
class ToolboxConfig:
    """How the toolbox reaches Quarry and shapes its requests. It holds no key of the server's: each user calls
    with a key they typed, or, signed in, with a credential derived for them (`credentials`)."""

    api_url: str | None  # None: the Quarry serving this page, reached over the socket the browser came in on
    default_model: str
    credentials: CredentialIssuer | None = None
    timeout_s: float = 60.0
    compress_after_tokens: int = 8000
    keep_recent_messages: int = 6
    split_tokens: int = 24000


@dataclass(slots=True)
class Session:
    """One browser session: who it is, which Quarry it calls, and its user's settings. It holds no credential,
    so none can reach the page (the credential is looked up per call by `Toolbox.credential`)."""

    user: str
    api_url: str
    model: str
    presets: dict[str, str] = field(default_factory=dict)
    signed_in: str | None = None


def user_id(username: str | None, browser_id: str) -> str:
    """The `X-Quarry-User` of a session: the signed-in name, else this browser's own random id."""
    if username:
        return (
            f"u:{username}"
            if _SAFE_USER.fullmatch(username)
            else f"h:{hashlib.sha256(username.encode()).hexdigest()[:40]}"
        )
    return f"b:{browser_id}"


def browser_id_for(session_hash: str | None) -> str:
    """A new browser's id, the same for every event of its first page (the load handler and any control used
    before it ran agree on it, so nothing is saved under an id that is then replaced)."""
    if not session_hash:
        return uuid.uuid4().hex
    return hashlib.sha256(f"quarry-browser:{session_hash}".encode()).hexdigest()[:32]


class Toolbox:
    """Shared by every session of one UI: the configuration, a connection pool to Quarry, and the keys users
    typed (kept here, in memory, never in the page or the browser's storage)."""

    def __init__(self, config: ToolboxConfig) -> None:
        self.config = config
        self._http: httpx2.AsyncClient | None = None
        self._typed_keys: dict[str, str] = {}
        # Each model's effort levels, as the last model list a page loaded gave them (facts, the same for everyone).
        self.efforts: dict[str, Efforts] = {}

    def _pool(self) -> httpx2.AsyncClient:
        # Created on first use, inside the server's event loop, and reused by every session's client. The
        # timeouts are a person's patience, not a batch job's: an API that does not answer is said so.
        if self._http is None:
            timeout = httpx2.Timeout(self.config.timeout_s, connect=min(10.0, self.config.timeout_s))
            self._http = httpx2.AsyncClient(timeout=timeout, trust_env=False)
        return self._http

    def home_url(self, scope: dict[str, Any] | None) -> str:
        """The operator's API URL, or this server itself at the local address the browser's connection reached."""
        if self.config.api_url:
            return self.config.api_url
        host, port = (scope or {}).get("server") or ("127.0.0.1", 8080)
        if host in ("0.0.0.0", "", None):  # noqa: S104  # an address to call, not one to bind
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def typed_key(self, session: Session) -> str | None:
        return self._typed_keys.get(session.user)

    def remember_key(self, session: Session, key: str) -> None:
        """Use `key` for this user from now on (until forgotten or the server restarts)."""
        self._typed_keys.pop(session.user, None)
        if len(self._typed_keys) >= _MAX_TYPED_KEYS:
            del self._typed_keys[next(iter(self._typed_keys))]
        self._typed_keys[session.user] = key

    def forget_key(self, session: Session) -> None:
        self._typed_keys.pop(session.user, None)

    def derived(self, session: Session) -> bool:
        """Whether the session calls with a credential derived from its sign-in (no key typed)."""
        return bool(session.signed_in and self.config.credentials and session.user not in self._typed_keys)

    def credential(self, session: Session) -> str:
        """What the session calls the API with: the key its user typed, else its sign-in's derived credential,
        else nothing (enough for a keyless Quarry)."""
        typed = self._typed_keys.get(session.user)
        if typed:
            return typed
        if session.signed_in and self.config.credentials is not None:
            return self.config.credentials.issue(session.user)
        return ""

    def client(self, session: Session, key: str | None = None) -> ToolboxClient:
        """The session's client for models, chats, conversations and settings; `key` to try one before saving it."""
        credential = self.credential(session) if key is None else key
        return ToolboxClient(session.api_url, credential, session.user, self._pool(), self.config.timeout_s)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
