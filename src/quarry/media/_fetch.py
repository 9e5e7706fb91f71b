"""Fetch images over http(s) behind an SSRF guard that checks every address before connecting to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from yarl import URL

from quarry.media._data_url import DEFAULT_MAX_BYTES, describe_size
from quarry.media._errors import MediaError
from quarry.media._guard import AddressGuard, GuardedResolver
from quarry.media._sniff import Image, sniff_image_format

__all__ = ["FetchPolicy", "ImageFetcher"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {"Accept": "image/png, image/jpeg, image/gif, image/webp"}


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for fetching; `allow_hosts` names hosts, IPs or CIDR networks exempt from the private-address refusal."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_s: float = 10.0
    max_redirects: int = 3
    allow_hosts: frozenset[str] = frozenset()


def _parse(url: str, base: URL | None = None) -> URL:
    """Parse (and resolve a relative redirect against `base`), refusing anything but absolute http(s) URLs."""
    try:
        parsed = URL(url) if base is None else base.join(URL(url))
    except (ValueError, TypeError):
        what = "image_url" if base is None else "image_url redirect"
        raise MediaError(f"{what} is not a valid URL") from None
    subject = "image_url" if base is None else "image_url redirected to a URL whose"
    if parsed.scheme not in ("http", "https"):
        raise MediaError(f"{subject} scheme {parsed.scheme or '(none)'!r} is not allowed; use http or https")
    if not parsed.raw_host:
        raise MediaError("image_url has no host" if base is None else "image_url redirected to a URL with no host")
    return parsed


class ImageFetcher:
    """Fetches image URLs through one lazily created aiohttp session; use `async with` or call `aclose()`."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._guard = AddressGuard(policy.allow_hosts)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session and its pooled connections."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> Image:
        """Download an http(s) image URL, or raise MediaError saying why it cannot be used."""
        target = _parse(url)
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                return await self._follow(target)
        except TimeoutError:
            raise MediaError(f"image_url could not be fetched within {self._policy.timeout_s:g} seconds") from None
        except aiohttp.ClientConnectorDNSError as exc:
            raise MediaError(f"image_url host {exc.host} could not be resolved") from exc
        except aiohttp.ClientConnectorError as exc:
            raise MediaError(f"image_url host {exc.host} could not be reached") from exc
        except aiohttp.InvalidURL as exc:
            raise MediaError("image_url is not a valid URL") from exc
        except aiohttp.ClientError as exc:
            raise MediaError(f"image_url could not be fetched ({type(exc).__name__})") from exc

    async def _follow(self, url: URL) -> Image:
        session = self._open_session()
        for _ in range(self._policy.max_redirects + 1):
            self._guard.check_literal(url.raw_host or "")
            async with session.get(url, allow_redirects=False, headers=_HEADERS) as response:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location is not None:
                    url = _parse(location, base=response.url)
                    continue
                if not 200 <= response.status < 300:
                    raise MediaError(f"image_url returned HTTP status {response.status}")
                data = await self._read(response)
            image_format = sniff_image_format(data)
            if image_format is None:
                raise MediaError("image_url did not return a PNG, JPEG, GIF or WebP image")
            return Image(data=data, format=image_format)
        raise MediaError(f"image_url redirected more than {self._policy.max_redirects} times")

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._policy.max_bytes
        too_large = MediaError(f"image_url is larger than the {describe_size(limit)} limit")
        if response.content_length is not None and response.content_length > limit:
            raise too_large
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limit:
                raise too_large
        return bytes(body)

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this ImageFetcher is closed")
        if self._session is None:
            # No DNS cache: each new connection resolves (and is checked) once, then connects to what
            # was checked. No cookie jar: cookies set for one caller's URL must not go out with another's.
            # trust_env=False: an HTTP(S)_PROXY in the environment would connect on our behalf, unchecked.
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._guard), use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
            )
        return self._session
