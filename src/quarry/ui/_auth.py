"""Sign-in for an exposed toolbox: configured users with salted password hashes, or a proxy's identity header."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request

__all__ = ["hash_password", "password_checker", "trusted_header_identity", "verify_password"]

_ALGORITHM = "pbkdf2_sha256"
_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256


def hash_password(password: str, *, iterations: int = _ITERATIONS) -> str:
    """`pbkdf2_sha256$<iterations>$<salt>$<hash>`, what `[ui] users` holds."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join((_ALGORITHM, str(iterations), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches a stored hash, compared in constant time; a malformed hash never matches."""
    try:
        algorithm, iterations, salt, expected = encoded.split("$")
        if algorithm != _ALGORITHM:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(digest, base64.b64decode(expected))
    except ValueError:
        return False


def password_checker(users: dict[str, str], *, concurrency: int = 2) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's `auth` callable over the configured users, async (Gradio awaits a coroutine function).

    A hash takes a CPU for a good part of a second by design, so it runs in a worker thread, never on the event
    loop, and at most `concurrency` at once, so a burst of logins cannot take every worker thread either.
    """
    # A stand-in hash, so that an unknown user costs the same time as a wrong password.
    decoy = hash_password(secrets.token_hex(8), iterations=_ITERATIONS)
    hashing = asyncio.Semaphore(concurrency)  # bound to the server's loop when first waited on

    async def check(username: str, password: str) -> bool:
        async with hashing:
            matched = await asyncio.to_thread(verify_password, password, users.get(username, decoy))
        return username in users and matched

    return check


def trusted_header_identity(header: str, proxies: list[str]) -> Callable[[Request], str | None]:
    """Gradio's `auth_dependency`: the user named by `header`, believed only from the configured proxies."""
    networks = [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]

    def identity(request: Request) -> str | None:
        peer = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return None
        if not any(address in network for network in networks):
            return None
        user = request.headers.get(header, "").strip()
        return user[:128] or None

    return identity
