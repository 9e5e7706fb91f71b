"""How requests to Bedrock prove who Quarry is: SigV4 from botocore's credential chain, or a Bedrock API key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from hashlib import sha256
from typing import Any, Protocol, cast

import botocore.auth
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth
from botocore.credentials import Credentials, ReadOnlyCredentials

__all__ = ["BearerTokenSigner", "RequestSigner", "SigV4Signer", "StaticCredentials"]


class RefreshableCredentials(Protocol):
    """aiobotocore's credentials: refreshed without blocking the event loop when they are about to expire."""

    async def get_frozen_credentials(self) -> ReadOnlyCredentials: ...


class RequestSigner(Protocol):
    async def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """The headers to send, authentication included."""
        ...


# Seconds since the epoch; a name of its own so a test can set the signer's date.
clock = time.time
_UNSIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)
# Request paths whose canonical form is remembered per signer: a gateway calls a handful of models and operations.
_KNOWN_PATHS = 256


class _SigningCache:
    """What stays the same from one request's signature to the next, kept per SigV4Signer (so per app, not per
    process): the derived signing key, which changes only with the date (or the secret), and the canonical form of
    each request path (quoting a path again is a tenth of a signature)."""

    __slots__ = ("key", "key_for", "paths", "second", "stamp")

    def __init__(self) -> None:
        self.key = b""
        self.key_for: tuple[str, str] | None = None  # (secret, date) the key was derived for
        self.paths: dict[str, str] = {}
        self.second = -1
        self.stamp = ""

    def timestamp(self) -> str:
        """Now as SigV4 writes it (`X-Amz-Date`), formatted once per second rather than per request."""
        second = int(clock())
        if second != self.second:
            self.stamp, self.second = time.strftime(SIGV4_TIMESTAMP, time.gmtime(second)), second
        return self.stamp


class _Headers:
    """A request's headers as botocore's signer uses them (`in`, get, set, delete, `items()`), by name regardless of
    case and kept as given: the part of botocore's HTTPHeaders SigV4Auth needs, without its email.message machinery,
    which was most of a signature's cost."""

    __slots__ = ("_by_lower",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._by_lower = {name.lower(): (name, value) for name, value in headers.items()}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_lower

    def __getitem__(self, name: str) -> str:
        return self._by_lower[name.lower()][1]

    def __setitem__(self, name: str, value: str) -> None:
        self._by_lower[name.lower()] = (name, value)

    def __delitem__(self, name: str) -> None:
        del self._by_lower[name.lower()]

    def items(self) -> list[tuple[str, str]]:
        return list(self._by_lower.values())

    def signed(self) -> _Signed:
        """The headers SigV4 signs: lowercased, without the ones botocore leaves out, `host` always there."""
        return _Signed((lower, value) for lower, (_, value) in self._by_lower.items() if lower not in _UNSIGNED)


class _Signed(dict[str, str]):
    """Lowercased header names to values (one each: they come from a dict), with their SignedHeaders list worked out
    once (botocore's signer asks for it twice)."""

    __slots__ = ("names",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.names = ""

    def get_all(self, name: str) -> list[str]:
        return [self[name]]


class _Request:
    """The request botocore's SigV4Auth signs, in place of an AWSRequest: what `add_auth` reads (method, url,
    headers, body, params, context), nothing prepared."""

    __slots__ = ("body", "context", "data", "headers", "method", "params", "signed", "url")

    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers = _Headers(headers)
        self.body = self.data = body
        self.params: dict[str, str] = {}
        self.context: dict[str, Any] = {}
        self.signed: _Signed | None = None


class _BodySigV4(SigV4Auth):
    """botocore's signer, over a light `_Request`, with three shortcuts measured on the gateway's hot path: the body
    hash taken from the bytes directly, the derived key reused while the date and secret are the same (botocore
    derives it with four HMACs per request), and the headers to sign chosen once per request, from a plain dict
    (botocore works them out twice, through its email-based header map). One per credentials, reused while they last."""

    # botocore's own, which botocore-stubs leave out.
    _region_name: str
    _service_name: str
    _sign: Callable[..., Any]
    _modify_request_before_signing: Callable[[Any], None]
    _inject_signature_to_request: Callable[[Any, str], Any]

    def __init__(self, credentials: Credentials, region: str, cache: _SigningCache) -> None:
        super().__init__(credentials, "bedrock", region)
        self._cache = cache

    def add_auth(self, request: Any) -> None:
        # SigV4Auth.add_auth's steps, minus its four debug logs, with the timestamp's text made once a second.
        request.context["timestamp"] = self._cache.timestamp()
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        self._inject_signature_to_request(request, self.signature(self.string_to_sign(request, canonical), request))

    def canonical_query_string(self, request: Any) -> str:
        # bedrock-runtime's paths take no query; botocore splits the URL again to find none.
        return "" if "?" not in request.url else super().canonical_query_string(request)

    def payload(self, request: Any) -> str:
        return sha256(request.data).hexdigest()

    def headers_to_sign(self, request: Any) -> Any:
        signed: _Signed | None = request.signed
        if signed is None:
            signed = request.signed = request.headers.signed()
            if "host" not in signed:
                signed["host"] = botocore.auth._host_from_url(request.url)  # type: ignore[attr-defined]  # not in stubs
        return signed

    def canonical_headers(self, headers_to_sign: Any) -> str:
        # botocore's rule (sorted `name:value` lines, each value's runs of whitespace made one space) over a plain
        # dict with one value per name, without botocore's generic set, get_all and per-value calls.
        return "\n".join(f"{name}:{' '.join(headers_to_sign[name].split())}" for name in sorted(headers_to_sign))

    def signed_headers(self, headers_to_sign: Any) -> str:
        signed = cast(_Signed, headers_to_sign)
        if not signed.names:
            signed.names = ";".join(sorted(signed))
        return signed.names

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
        self._frozen: ReadOnlyCredentials | None = None
        self._auth: _BodySigV4 | None = None

    async def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        frozen = await self._credentials.get_frozen_credentials()
        auth = self._auth
        if auth is None or frozen != self._frozen:  # the chain hands over the same keys until it refreshes them
            credentials = Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token)
            auth = self._auth = _BodySigV4(credentials, self._region, self._cache)
            self._frozen = frozen
        request = _Request(method, url, headers, body)
        auth.add_auth(request)
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
