"""Reasoning sealed for stateless clients: Claude's thinking and its signature as `encrypted_content`.

With `store: false` and `include: ["reasoning.encrypted_content"]` a client (Codex) keeps the reasoning items of a
turn and sends them back with the tool results; Claude needs its signed thinking on that turn to go on thinking
(https://platform.openai.com/docs/guides/reasoning#encrypted-reasoning-items). The content is AES-GCM under a
server key (authenticated: an edited item fails to open and is a 400), with the caller's key id as associated data,
so one key cannot replay another's items. The server key is a file in the data dir, made on first use readable by
its owner only, the same in every process (as the toolbox's credential secret is kept)."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quarry.auth import server_secret
from quarry.errors import InvalidRequest, QuarryError
from quarry.settings import Settings

__all__ = ["KEY_FILE", "Sealer"]

KEY_FILE = "responses-reasoning.key"
_VERSION = b"q1"  # a prefix naming the format, so a later one can be told apart
_NONCE = 12


class Sealer:
    """Seals and opens reasoning content for one caller (`principal`: the key's id). The key is read when first
    needed: most requests carry no reasoning, and make no file."""

    __slots__ = ("_aead", "_key", "_principal")

    def __init__(self, key: bytes | Callable[[], bytes], principal: str) -> None:
        self._key = key
        self._aead: AESGCM | None = None
        self._principal = principal.encode()

    @classmethod
    def of(cls, settings: Settings, principal: str) -> Sealer:
        """The server's sealer: under `server_key` when set (replicas open each other's items), else the data dir's
        own key file."""
        return cls(lambda: server_secret(settings, "responses-reasoning", KEY_FILE), principal)

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            try:
                self._aead = AESGCM(self._key() if callable(self._key) else self._key)
            except OSError as exc:
                raise QuarryError(f"Quarry cannot keep its reasoning key ({KEY_FILE}) in the data dir: {exc}") from exc
        return self._aead

    def seal(self, content: dict[str, Any]) -> str:
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._cipher().encrypt(nonce, orjson.dumps(content), self._principal)
        return (_VERSION + base64.urlsafe_b64encode(nonce + sealed)).decode()

    def open(self, token: object, where: str) -> dict[str, Any]:
        """The content of a sealed item; InvalidRequest naming `where` when it was altered or is not Quarry's."""
        refused = InvalidRequest(
            f"`{where}` could not be verified: it was altered, or was not issued by this server to this API key.",
            param=where,
            code="invalid_encrypted_content",
        )
        if not isinstance(token, str) or not token.startswith(_VERSION.decode()):
            raise refused
        try:
            raw = base64.urlsafe_b64decode(token[len(_VERSION) :])
            content = orjson.loads(self._cipher().decrypt(raw[:_NONCE], raw[_NONCE:], self._principal))
        except (binascii.Error, ValueError, InvalidTag, orjson.JSONDecodeError):
            raise refused from None
        if not isinstance(content, dict):
            raise refused
        return content
