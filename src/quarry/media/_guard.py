"""The SSRF guard: which addresses an image fetch may connect to, and a resolver that enforces it."""

from __future__ import annotations

import ipaddress
import logging
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from quarry.media._errors import MediaError

__all__ = ["AddressGuard", "GuardedResolver"]

log = logging.getLogger("quarry.media")
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
_METADATA_REASON = "a cloud metadata address"
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


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


class AddressGuard:
    """Decides whether a host, and each address it resolved to, may be connected to."""

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
        if host == str(ip):  # the caller wrote the address: naming its kind tells them nothing new
            raise MediaError(f"image_url host {host} is {reason}, which is not allowed")
        # What a name resolved to stays in the log: echoing it would map the server's network for the caller.
        log.info("image_url host %s refused: it resolves to %s, %s", host, ip, reason)
        raise MediaError(f"image_url host {host} is not allowed: it does not resolve to a public address")

    def check_literal(self, host: str) -> None:
        """Check a URL host that aiohttp will take for an IP literal and so never pass to the resolver."""
        # aiohttp's test is "contains ':' or only digits and dots"; whatever passes it must be an address
        # we can check, else legacy forms such as 127.1 or 2130706433 would reach the socket unchecked.
        if ":" in host or host.replace(".", "").isdigit():
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                raise MediaError(f"image_url host {host} is not a valid IP address") from None
            self.check(host, ip)

    def _allowed(self, host: str, ip: _Address, reason: str) -> bool:
        plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        if reason == _METADATA_REASON:
            # A broad intranet range or a host name must not open the metadata service by accident.
            return any(net.num_addresses == 1 and plain in net for net in self._networks)
        return host.lower().rstrip(".") in self._names or any(plain in net for net in self._networks)


class GuardedResolver(AbstractResolver):
    """System DNS, but a host is refused if any address it resolves to is; aiohttp connects to what was checked."""

    def __init__(self, guard: AddressGuard) -> None:
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
