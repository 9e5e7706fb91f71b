"""Fetch images over http(s) behind an SSRF guard that checks every address before connecting to it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from quarry.media._data_url import DEFAULT_MAX_BYTES, describe_size
from quarry.media._errors import MediaError
from quarry.media._sniff import Image, sniff_image_format

__all__ = ["FetchPolicy", "ImageFetcher"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
_METADATA_REASON = "a cloud metadata address"
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {"Accept": "image/png, image/jpeg, image/gif, image/webp"}


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for fetching; `allow_hosts` names hosts, IPs or CIDR networks exempt from the private-address refusal."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_s: float = 10.0
    max_redirects: int = 3
    allow_hosts: frozenset[str] = frozenset()


def _refusal(ip: _Address) -> str | None:
    """Say why connecting to `ip` is refused, or return None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _refusal(ip.ipv4_mapped)
        # 6to4 and NAT64 addresses are routed on to the IPv4 address they embed.
        embedded = ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None and (reason := _refusal(embedded)) is not None:
            return reason
    checks = (
        (ip in _METADATA, _METADATA_REASON),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _SHARED, "a shared (carrier-grade NAT) address"),
        (any(ip in net for net in _PRIVATE), "a private address"),
        (ip.is_reserved, "a reserved address"),
        # Catch-all for the rest of IANA's special-purpose ranges (documentation, benchmarking, ...).
        (not ip.is_global, "a non-public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


class _Guard:
    """Decides whether a host and an address it resolved to may be connected to."""

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self._names: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.add(entry.lower().rstrip("."))

    def check(self, host: str, ip: _Address) -> None:
        """Raise MediaError unless connecting to `ip` (what `host` resolved to) is allowed."""
        reason = _refusal(ip)
        if reason is None or self._allowed(host, ip, reason):
            return
        where = f"{host} is" if host == str(ip) else f"{host} resolves to {ip},"
        raise MediaError(f"image_url host {where} {reason}, which is not allowed")

    def _allowed(self, host: str, ip: _Address, reason: str) -> bool:
        plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        if reason == _METADATA_REASON:
            # A broad intranet range or a host name must not open the metadata service by accident.
            return any(net.num_addresses == 1 and plain in net for net in self._networks)
        return host.lower().rstrip(".") in self._names or any(plain in net for net in self._networks)


class _GuardedResolver(AbstractResolver):
    """System DNS, but a host is refused if any address it resolves to is refused; aiohttp connects to these."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host` and check every address before aiohttp may use any of them."""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._guard.check(host, ipaddress.ip_address(result["host"]))
        return results

    async def close(self) -> None:
        """Release the system resolver."""
        await self._inner.close()


def _parse(url: str | URL, base: URL | None = None) -> URL:
    """Parse (and resolve a relative redirect against `base`), refusing anything but absolute http(s) URLs."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        if base is not None:
            parsed = base.join(parsed)
    except (ValueError, TypeError):
        raise MediaError("image_url is not a valid URL") from None
    what = "image_url" if base is None else "image_url redirected to a URL whose"
    if parsed.scheme not in ("http", "https"):
        raise MediaError(f"{what} scheme {parsed.scheme or '(none)'!r} is not allowed; use http or https")
    if not parsed.raw_host:
        raise MediaError(f"{'image_url' if base is None else 'image_url redirect'} has no host")
    return parsed


class ImageFetcher:
    """Fetches image URLs through one lazily created aiohttp session; use `async with` or call `aclose()`."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._guard = _Guard(policy.allow_hosts)
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
            async with asyncio.timeout(None):
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
            self._check_literal_host(url)
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

    def _check_literal_host(self, url: URL) -> None:
        # aiohttp skips the resolver for anything it takes for an IP literal (any host with a ':' or
        # only digits and dots), so those are checked here, and refused if they are not a plain address.
        host = url.raw_host or ""
        if ":" in host or host.replace(".", "").isdigit():
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                raise MediaError(f"image_url host {host} is not a valid IP address") from None
            self._guard.check(host, ip)

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
            connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self._guard), use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
            )
        return self._session
