"""AWS-style credentials for a team key, for tools that can only sign their requests with SigV4 (an access key id
and a secret access key), never send a bearer token.

SigV4 proves the caller knows the secret by an HMAC that the verifier must compute too, so the secret cannot be
stored as a hash as a team key is: it is stored encrypted (AES-GCM) under a key derived from the server key, with the
access key id and the team key's id as associated data, so a ciphertext moved to another row does not open. A key has
at most one credential: issuing another replaces it (rotation); removing it, or revoking the key, ends it."""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quarry.auth._keys import ApiKey, _key
from quarry.errors import InvalidRequest, QuarryError
from quarry.store import Database

__all__ = ["ACCESS_KEY_PREFIX", "SERVER_KEY_PURPOSE", "AwsCredential", "AwsCredentialStore"]

# AWS's own access key ids are 20 upper-case letters and digits starting with AKIA (long-term) or ASIA (temporary);
# Quarry's have the same shape with a prefix of its own, so they pass every SDK's checks and are told apart at a
# glance (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids).
ACCESS_KEY_PREFIX = "QKIA"
SERVER_KEY_PURPOSE = "aws-credentials"
_ALPHABET = string.ascii_uppercase + "234567"
_VERSION = b"q1"  # names the sealed format, so a later one can be told apart
_NONCE = 12


@dataclass(frozen=True, slots=True)
class AwsCredential:
    access_key_id: str
    key_id: str  # the team key it signs for
    created_at: float

    def public(self) -> dict[str, object]:
        return {"aws_access_key_id": self.access_key_id, "aws_created_at": self.created_at}


class AwsCredentialStore:
    """Issues, finds and removes the AWS credentials of team keys. `server_key` gives the 32-byte encryption key
    (read when first needed: a server whose keys have no credentials never makes the file)."""

    def __init__(self, database: Database, server_key: Callable[[], bytes]) -> None:
        self._db = database
        self._server_key = server_key
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            try:
                self._aead = AESGCM(self._server_key())
            except OSError as exc:
                raise QuarryError(f"Quarry cannot keep its server key in the data dir: {exc}") from exc
        return self._aead

    def _seal(self, secret: str, access_key_id: str, key_id: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._cipher().encrypt(nonce, secret.encode(), f"{access_key_id}\x00{key_id}".encode())
        return (_VERSION + base64.b64encode(nonce + sealed)).decode()

    def _open(self, sealed: str, access_key_id: str, key_id: str) -> str | None:
        if not sealed.startswith(_VERSION.decode()):
            return None
        try:
            raw = base64.b64decode(sealed[len(_VERSION) :])
            aad = f"{access_key_id}\x00{key_id}".encode()
            return self._cipher().decrypt(raw[:_NONCE], raw[_NONCE:], aad).decode()
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
            return None

    async def issue(self, key: ApiKey) -> tuple[AwsCredential, str]:
        """A new credential for `key` and its secret access key, which is shown once; any earlier one is removed."""
        if key.revoked_at is not None:
            raise InvalidRequest(f"The API key `{key.id}` is revoked: it can have no AWS credentials.", param="id")
        access_key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
        secret = secrets.token_urlsafe(30)  # 40 characters, as AWS's secret access keys have
        credential = AwsCredential(access_key_id, key.id, time.time())
        sealed = self._seal(secret, access_key_id, key.id)
        await self._db.execute("DELETE FROM aws_credentials WHERE key_id = ?", key.id)
        await self._db.execute(
            "INSERT INTO aws_credentials (access_key_id, key_id, sealed, created_at) VALUES (?, ?, ?, ?)",
            access_key_id, key.id, sealed, credential.created_at,
        )  # fmt: skip
        return credential, secret

    async def remove(self, key_id: str) -> int:
        """Remove the credentials of a team key; how many there were."""
        return await self._db.execute("DELETE FROM aws_credentials WHERE key_id = ?", key_id)

    async def of_keys(self) -> dict[str, AwsCredential]:
        """Every credential, by the id of the key it signs for."""
        rows = await self._db.fetch("SELECT access_key_id, key_id, created_at FROM aws_credentials")
        return {row["key_id"]: AwsCredential(row["access_key_id"], row["key_id"], row["created_at"]) for row in rows}

    async def find(self, access_key_id: str) -> tuple[ApiKey, str] | None:
        """The team key an access key id signs for (revoked and expired ones included: the caller decides) and the
        secret access key; None for an id Quarry did not issue. A secret that does not open under this server's
        key is an error naming the fix: it was stored by a Quarry with another server key."""
        row = await self._db.fetchrow(
            "SELECT k.*, c.sealed AS aws_sealed FROM aws_credentials c JOIN api_keys k ON k.id = c.key_id"
            " WHERE c.access_key_id = ?",
            access_key_id,
        )
        if row is None:
            return None
        key = _key(row)
        secret = self._open(row["aws_sealed"], access_key_id, key.id)
        if secret is None:
            raise QuarryError(
                f"Quarry cannot decrypt the secret of AWS access key {access_key_id}: it was issued under another "
                "server key. Replicas sharing a database need the same QUARRY_SERVER_KEY."
            )
        return key, secret
