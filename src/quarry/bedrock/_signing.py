"""How requests to Bedrock prove who Quarry is: SigV4 from botocore's credential chain, or a Bedrock API key."""

from __future__ import annotations

from hashlib import sha256
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

__all__ = ["BearerTokenSigner", "RequestSigner", "SigV4Signer", "StaticCredentials"]


class RefreshableCredentials(Protocol):
    """aiobotocore's credentials: refreshed without blocking the event loop when they are about to expire."""

    async def get_frozen_credentials(self) -> ReadOnlyCredentials: ...


class RequestSigner(Protocol):
    async def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """The headers to send, authentication included."""
        ...


class _BodySigV4(SigV4Auth):
    """botocore's signer, hashing the body bytes directly instead of preparing a whole AWSRequest for it."""

    def payload(self, request: Any) -> str:
        return sha256(request.data).hexdigest()


class SigV4Signer:
    """Signature Version 4 for the `bedrock` signing name, with credentials from botocore's whole chain."""

    def __init__(self, credentials: RefreshableCredentials, region: str) -> None:
        self._credentials = credentials
        self._region = region

    async def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        frozen = await self._credentials.get_frozen_credentials()
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        credentials = Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token)
        _BodySigV4(credentials, "bedrock", self._region).add_auth(request)
        return dict(request.headers.items())


class BearerTokenSigner:
    """A Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`), sent as a bearer token."""

    def __init__(self, token: str) -> None:
        self._authorization = f"Bearer {token}"

    async def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        return {**headers, "Authorization": self._authorization}


class StaticCredentials:
    """Fixed keys (the in-process emulator's, or ones handed over explicitly)."""

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        self._frozen = ReadOnlyCredentials(access_key, secret_key, token)

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._frozen
