"""Where a jail may connect: allowlist patterns, its upstreams' routes, safe addresses."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass

from agent_runner.agents.sandbox.netns import Bind
from agent_runner.agents.sandbox.schemas import Upstream

# Named upstreams get 127.0.0.2, .3, … inside the jail (127.0.0.1 stays the jail's own).
FIRST_NAMED_ADDRESS = 2


class EgressError(Exception):
    """The egress policy asks for something a jail cannot offer."""


@dataclass(frozen=True)
class HostPattern:
    """An allowlist entry: an exact host or `*.suffix`, and a port (443 by default)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        """`pypi.org`, `*.npmjs.org`, `registry.local:8443`, `[::1]:9000`."""
        host, port = split_authority(text.strip().lower(), default_port=443)
        if not host or "*" in host.removeprefix("*."):
            raise EgressError(f"not a host pattern: {text!r}")
        return cls(host, port)

    def matches(self, host: str, port: int) -> bool:
        """True for the same port and the same host (or a subdomain for `*.`)."""
        host = host.lower().rstrip(".")
        if port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def split_authority(text: str, default_port: int) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) as (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise EgressError(f"not a port: {port!r}")
    return host.rstrip("."), int(port) if port else default_port


@dataclass(frozen=True)
class Route:
    """Where the jail reaches an upstream: a loopback address and port inside the jail."""

    jail_host: str
    port: int
    upstream: Upstream
    # The name /etc/hosts gives `jail_host` (None for a loopback base URL).
    name: str | None


def plan_routes(upstreams: tuple[Upstream, ...]) -> tuple[Route, ...]:
    """One route per upstream: loopback kept, names mapped to 127.0.0.2, .3, …"""
    routes: dict[Bind, Route] = {}
    addresses: dict[str, str] = {}
    for upstream in upstreams:
        jail_host, name = _jail_address(upstream.host, addresses)
        route = Route(jail_host, upstream.port, upstream, name)
        routes.setdefault((jail_host, upstream.port), route)
    return tuple(routes.values())


def _jail_address(host: str, addresses: dict[str, str]) -> tuple[str, str | None]:
    if host == "localhost":
        return "127.0.0.1", None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.lower().rstrip(".")
        if name not in addresses:
            addresses[name] = f"127.0.0.{FIRST_NAMED_ADDRESS + len(addresses)}"
        return addresses[name], name
    if not address.is_loopback:
        raise EgressError(f"an upstream by IP address must be a loopback one, not {host}")
    return host, None


async def dial_address(host: str, port: int) -> str:
    """The address to connect to: an IP literal as given; a name only to an outside address."""
    # An allowlisted name (a wildcard's subdomain above all) may resolve to the host's
    # loopback or link-local addresses (the sidecar, Postgres, the cloud metadata
    # service): the tunnel would then reach exactly what the jail hides. The connection
    # goes to the address checked here, so a second lookup cannot change it.
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if host_internal(address):
            raise EgressError(f"{host} resolves to {address}, an address of the host itself")
    return addresses[0]


def host_internal(address: str) -> bool:
    """True for loopback, link-local and unspecified addresses (IPv4-mapped ones too)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified
