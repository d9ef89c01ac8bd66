"""Where outgoing webhooks may go: https to public addresses, checked after resolving.

A target URL names a host; the host is resolved here, every address it resolves to must
be allowed, and the delivery then connects to one of those checked addresses (with the
host name kept for TLS and the Host header), so a second, different DNS answer (DNS
rebinding) can never reach an address that was not checked. In cloud mode private,
loopback, link-local and every other non-global address is refused unless an operator
allowlists its network; in local mode loopback is fine too (and http on loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses it resolves to (as text).
Resolver = Callable[[str, int], Awaitable[list[str]]]
Mode = Literal["local", "cloud"]
RESOLVE_SECONDS = 5.0


class RefusedTarget(Exception):
    """The URL or an address it resolves to may not receive webhooks."""


@dataclass(frozen=True)
class TargetPolicy:
    """The mode (local or cloud) and the networks an operator allowlisted."""

    mode: Mode = "cloud"
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, mode: Mode, networks: Sequence[str]) -> TargetPolicy:
        """A policy from settings (CIDR strings)."""
        return cls(mode, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def allows_address(self, address: IPAddress) -> bool:
        """True when a webhook may connect to `address`."""
        plain = _unmapped(address)
        if any(plain in network for network in self.allowed_networks):
            return True
        if self.mode == "local" and plain.is_loopback:
            return True
        return plain.is_global and not plain.is_multicast


@dataclass(frozen=True)
class Target:
    """A parsed target URL: scheme, host, port and the path with its query."""

    scheme: str
    host: str
    port: int
    path: str

    def url_at(self, address: str) -> str:
        """The same URL aimed at one checked address instead of the host name."""
        literal = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{literal}:{self.port}{self.path}"


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4 address hidden in IPv6 (::ffff:a.b.c.d, 6to4, Teredo) counts as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                return inner
        if address.teredo is not None:
            return address.teredo[1]
    return address


def parse_target(url: str, policy: TargetPolicy) -> Target:
    """The target of `url`, or RefusedTarget for a scheme or shape webhooks may not use."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget("the URL is not valid") from exc
    host = (parts.hostname or "").rstrip(".")
    if parts.username or parts.password:
        raise RefusedTarget("the URL may not carry credentials")
    if not host:
        raise RefusedTarget("the URL has no host")
    if parts.scheme == "http":
        if policy.mode != "local" or not _names_loopback(host):
            raise RefusedTarget("webhooks need https (http only to loopback in local mode)")
    elif parts.scheme != "https":
        raise RefusedTarget("webhooks need https")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def _names_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return _unmapped(ipaddress.ip_address(host)).is_loopback
    except ValueError:
        return False


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for `host`."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def checked_addresses(target: Target, policy: TargetPolicy, resolver: Resolver) -> list[str]:
    """Every address the target's host resolves to, each one allowed, or RefusedTarget."""
    try:
        literal = ipaddress.ip_address(target.host)
        answers = [str(literal)]
    except ValueError:
        try:
            answers = await asyncio.wait_for(resolver(target.host, target.port), RESOLVE_SECONDS)
        except (OSError, TimeoutError, UnicodeError, ValueError) as exc:
            raise RefusedTarget(f"{target.host} does not resolve") from exc
    if not answers:
        raise RefusedTarget(f"{target.host} does not resolve")
    for answer in answers:
        if not policy.allows_address(ipaddress.ip_address(answer.split("%", 1)[0])):
            raise RefusedTarget(f"{target.host} resolves to {answer}, which webhooks may not reach")
    return answers
