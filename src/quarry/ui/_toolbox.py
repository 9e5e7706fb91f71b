"""The running toolbox's state: its configuration, one pooled HTTP client, and each session's identity."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2

from quarry.ui._client import ToolboxClient

__all__ = ["Session", "Toolbox", "ToolboxConfig"]

_SAFE_USER = re.compile(r"[A-Za-z0-9._@+=-]{1,120}")


@dataclass(frozen=True, slots=True)
class ToolboxConfig:
    """How the toolbox reaches Quarry and shapes its requests."""

    api_url: str | None  # None: the Quarry serving this page, reached over the socket the browser came in on
    api_key: str
    default_model: str
    compress_after_tokens: int = 8000
    keep_recent_messages: int = 6
    split_tokens: int = 24000


@dataclass(slots=True)
class Session:
    """One browser session: who it is and which Quarry, key and model it uses (its user's settings)."""

    user: str
    home_url: str
    api_url: str
    api_key: str
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


def new_browser_id() -> str:
    return uuid.uuid4().hex


class Toolbox:
    """Shared by every session of one UI: the configuration and a connection pool to Quarry."""

    def __init__(self, config: ToolboxConfig) -> None:
        self.config = config
        self._http: httpx2.AsyncClient | None = None

    def _pool(self) -> httpx2.AsyncClient:
        # Created on first use, inside the server's event loop, and reused by every session's client.
        if self._http is None:
            self._http = httpx2.AsyncClient(timeout=httpx2.Timeout(600.0, connect=10.0), trust_env=False)
        return self._http

    def home_url(self, scope: dict[str, Any] | None) -> str:
        """The configured API URL, or this server itself at the local address the browser's connection reached."""
        if self.config.api_url:
            return self.config.api_url
        host, port = (scope or {}).get("server") or ("127.0.0.1", 8080)
        if host in ("0.0.0.0", "", None):  # noqa: S104  # an address to call, not one to bind
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def client(self, session: Session) -> ToolboxClient:
        """The session's client for models, chats and conversations: its user's API URL and key."""
        return ToolboxClient(session.api_url, session.api_key, session.user, self._pool())

    def home(self, session: Session) -> ToolboxClient:
        """The client for the user's own settings, always kept on the Quarry serving the toolbox."""
        return ToolboxClient(session.home_url, self.config.api_key, session.user, self._pool())

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
