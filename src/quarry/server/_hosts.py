"""The guard against DNS rebinding and cross-site requests: a request must name a host Quarry answers to, and a
state-changing request sent by a page must come from that host or from an allowed CORS origin.

A rebinding page makes the browser send the attacker's own name as `Host`; a loopback name or address there can
only come from a client that reached Quarry under that name, so loopback names are always accepted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from quarry.errors import InvalidRequest, PermissionDenied, QuarryError
from quarry.settings import Settings

__all__ = ["HostGuard", "HostPolicy"]

Render = Callable[[Request, QuarryError], Response]
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_REMEMBERED_HOSTS = 1024  # answers kept per guard: a client naming new hosts on every request only empties them


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _name(host: str) -> str:
    """A bind address or configured name as it appears in a `Host` header: lower case, IPv6 in brackets."""
    host = host.strip().lower().rstrip(".")
    if ":" in host and not host.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return host
        return f"[{host}]"
    return host


def _split(authority: str) -> tuple[str, str | None] | None:
    """`name[:port]` of a `Host` header or an origin's authority; None when it is not one."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        name, rest = authority[: end + 1], authority[end + 1 :]
    else:
        name, _, port = authority.partition(":")
        rest = f":{port}" if port or authority.endswith(":") else ""
    if rest and (not rest.startswith(":") or not (rest[1:].isascii() and rest[1:].isdigit())):
        return None
    name = name.rstrip(".")
    return (name, rest[1:] or None) if name else None


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which `Host` names and which page origins a server accepts."""

    any_host: bool
    names: frozenset[str]  # exact names, any port; `.example.com` entries match its subdomains
    suffixes: tuple[str, ...]
    with_port: frozenset[tuple[str, str]]  # configured `name:port` entries
    any_origin: bool
    origins: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> HostPolicy:
        """The policy of a server bound to `settings.host` with `settings.allowed_hosts` and `settings.cors`."""
        configured = [entry.strip() for entry in settings.allowed_hosts if entry.strip()]
        loopback = _is_loopback(settings.host)
        # Behind a load balancer the public name is not known here, and health checks name the task's address;
        # such binds need an API key (and the toolbox a sign-in), so any host is accepted unless names are listed.
        any_host = "*" in configured or (not loopback and not configured)
        names: set[str] = set()
        suffixes: list[str] = []
        with_port: set[tuple[str, str]] = set()
        for entry in configured:
            if entry == "*":
                continue
            if entry.startswith("*."):
                suffixes.append(_name(entry[1:]))
                continue
            parsed = _split(_name(entry))
            if parsed is None:
                raise ValueError(f"allowed_hosts: {entry!r} is not a host name, address or name:port")
            name, port = parsed
            if port is None:
                names.add(name)
            else:
                with_port.add((name, port))
        bound = _name(settings.host)
        if bound not in ("0.0.0.0", "[::]", ""):  # noqa: S104  # a wildcard bind names no host
            names.add(bound)
        origins = [origin.strip().lower().rstrip("/") for origin in settings.cors.allow_origins]
        return cls(
            any_host=any_host,
            names=frozenset(names - _LOOPBACK_NAMES),
            suffixes=tuple(suffixes),
            with_port=frozenset(with_port),
            any_origin="*" in origins,
            origins=frozenset(origins),
        )

    def allows_host(self, host: str, bound_port: int | None) -> bool:
        """Whether a request naming `host` is for this server (which listens on `bound_port`)."""
        if self.any_host:
            return True
        parsed = _split(host)
        if parsed is None:
            return False
        name, port = parsed
        if name in _LOOPBACK_NAMES:
            return port is None or bound_port is None or port == str(bound_port)
        if name in self.names or (port is not None and (name, port) in self.with_port):
            return True
        return any(name.endswith(suffix) for suffix in self.suffixes)

    def allows_origin(self, origin: str, host: str) -> bool:
        """Whether a page at `origin` may change state on this server, reached as `host`."""
        origin = origin.strip().lower().rstrip("/")
        if self.any_origin or origin in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or parts.path or parts.query:
            return False  # `null` (sandboxed frames, files) and anything malformed
        own, page = _split(host), _split(parts.netloc)
        if own is None or page is None:
            return False
        default = _DEFAULT_PORTS[parts.scheme]
        # The scheme is not compared: a TLS-terminating balancer forwards an https page's request over http.
        return own[0] == page[0] and (own[1] or default) == (page[1] or default)


def _plain(request: Request, error: QuarryError) -> Response:
    return PlainTextResponse(error.message, status_code=error.status)


class HostGuard:
    """Pure ASGI: refuses a foreign `Host`, and a state-changing request from a foreign page, before any route runs.

    Paths under `api_prefixes` are answered by `render` (the caller's API envelope), the rest in plain text.
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: HostPolicy,
        render: Render | None = None,
        api_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.policy = policy
        self.render = render or _plain
        self.api_prefixes = api_prefixes
        # (Host header, bound port) → allowed: the policy is fixed, and a server is called by a handful of names, so
        # each is parsed and judged once rather than on every request.
        self._hosts: dict[tuple[str, int | None], bool] = {}

    def _allows_host(self, host: str, bound_port: int | None) -> bool:
        allowed = self._hosts.get((host, bound_port))
        if allowed is None:
            allowed = self.policy.allows_host(host, bound_port)
            if len(self._hosts) >= _REMEMBERED_HOSTS:
                self._hosts.clear()
            self._hosts[(host, bound_port)] = allowed
        return allowed

    def _refusal(self, scope: Scope) -> QuarryError | None:
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        server = scope.get("server")
        bound_port = server[1] if server and len(server) > 1 else None
        if not self._allows_host(host, bound_port):
            return InvalidRequest(
                f"This server does not answer to the host {host[:100]!r}; an operator can add it to "
                "QUARRY_ALLOWED_HOSTS.",
                code="host_not_allowed",
            )
        origin = headers.get(b"origin")
        method = scope.get("method", "GET")
        if origin is not None and (method in _STATE_CHANGING or scope["type"] == "websocket"):
            page = origin.decode("latin-1")
            if not self.policy.allows_origin(page, host):
                return PermissionDenied(
                    f"Requests from pages at {page[:100]!r} are not allowed; an operator can add the origin to "
                    "QUARRY_CORS__ALLOW_ORIGINS.",
                    code="origin_not_allowed",
                )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        error = self._refusal(scope)
        if error is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
            return
        request = Request(scope, receive)
        render = self.render if scope["path"].startswith(self.api_prefixes) else _plain
        await render(request, error)(scope, receive, send)
