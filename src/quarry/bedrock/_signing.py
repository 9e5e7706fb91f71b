"""How requests to Bedrock prove who Quarry is: SigV4 from botocore's credential chain, or a Bedrock API key."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256
from typing import Any, Protocol, cast

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


# Request paths whose canonical form is remembered per signer: a gateway calls a handful of models and operations.
_KNOWN_PATHS = 256


class _SigningCache:
    """What stays the same from one request's signature to the next, kept per SigV4Signer (so per app, not per
    process): the derived signing key, which changes only with the date (or the secret), and the canonical form of
    each request path (quoting a path again is a tenth of a signature)."""

    __slots__ = ("key", "key_for", "paths")

    def __init__(self) -> None:
        self.key = b""
        self.key_for: tuple[str, str] | None = None  # (secret, date) the key was derived for
        self.paths: dict[str, str] = {}


class _BodySigV4(SigV4Auth):
    """botocore's signer (one per request), with three shortcuts measured on the gateway's hot path: the body hash
    taken from the bytes directly instead of through a prepared AWSRequest, the derived key reused while the date and
    secret are the same (botocore derives it with four HMACs per request), and the headers to sign chosen once per
    request (botocore works them out twice, through its slow email-based header map)."""

    # botocore's own, which botocore-stubs leave out.
    _region_name: str
    _service_name: str
    _sign: Callable[..., Any]

    def __init__(self, credentials: Credentials, region: str, cache: _SigningCache) -> None:
        super().__init__(credentials, "bedrock", region)
        self._cache = cache
        self._headers: Any = None

    def payload(self, request: Any) -> str:
        return sha256(request.data).hexdigest()

    def headers_to_sign(self, request: Any) -> Any:
        if self._headers is None:
            self._headers = super().headers_to_sign(request)
        return self._headers

    def _normalize_url_path(self, path: str) -> str:
        paths = self._cache.paths
        known = paths.get(path)
        if known is None:
            known = cast(str, super()._normalize_url_path(path))  # type: ignore[misc]  # untyped in the stubs
            if len(paths) < _KNOWN_PATHS:
                paths[path] = known
        return known

    def signature(self, string_to_sign: str, request: Any) -> str:
        secret, date = self.credentials.secret_key or "", request.context["timestamp"][0:8]
        cache = self._cache
        if cache.key_for != (secret, date):
            # The key derivation of SigV4Auth.signature, done with botocore's own HMAC step, once per date.
            key = self._sign(f"AWS4{secret}".encode(), date)
            for part in (self._region_name, self._service_name, "aws4_request"):
                key = self._sign(key, part)
            cache.key, cache.key_for = key, (secret, date)
        return cast(str, self._sign(cache.key, string_to_sign, hex=True))


class SigV4Signer:
    """Signature Version 4 for the `bedrock` signing name, with credentials from botocore's whole chain."""

    def __init__(self, credentials: RefreshableCredentials, region: str) -> None:
        self._credentials = credentials
        self._region = region
        self._cache = _SigningCache()

    async def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        frozen = await self._credentials.get_frozen_credentials()
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        credentials = Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token)
        _BodySigV4(credentials, self._region, self._cache).add_auth(request)
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
