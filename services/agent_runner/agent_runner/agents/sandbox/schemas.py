"""What a jail is asked for and what the host offers: plain frozen values."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

MiB = 1 << 20
GiB = 1 << 30

CgroupMode = Literal["v2", "v1", "none"]
# Called for every connection the egress refuses: (host, port, reason).
RefusalHook = Callable[[str, int, str], Awaitable[None]]


@dataclass(frozen=True)
class JailLimits:
    """Resources of one jail: memory, tasks, CPU, its /tmp and the run's disk."""

    memory_bytes: int = 4 * GiB
    pids: int = 512
    cpu_cores: float = 1.0
    tmp_bytes: int = 512 * MiB
    disk_bytes: int = 10 * GiB


@dataclass(frozen=True)
class Upstream:
    """A host:port the agent must reach directly (its model provider's base URL)."""

    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Upstream:
        """The host and port of a base URL (443 for https, 80 for http when none is given)."""
        parts = urlsplit(url)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) base URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        return cls(parts.hostname, parts.port or default)

    def is_loopback(self) -> bool:
        """True for `localhost` and loopback IP addresses."""
        if self.host.lower().rstrip(".") == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class EgressPolicy:
    """Where a jail may connect: direct upstreams, proxy allowlist, loopback ports to watch."""

    upstreams: tuple[Upstream, ...] = ()
    # Host patterns reachable through the jail's HTTPS proxy (CONNECT): "pypi.org",
    # "*.npmjs.org", "files.pythonhosted.org:443". Port 443 unless the pattern names one.
    allowed_hosts: tuple[str, ...] = ()
    # Loopback ports of the host whose probes from inside the jail are reported (the
    # jail's own loopback is empty: a probe would otherwise fail without a trace).
    watched_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class JailRequest:
    """One turn's jail: the run, its writable folders, what else it may read, its limits."""

    run_id: str
    workspace: Path
    home: Path
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    # None: the operator's limits (SandboxPolicy.limits).
    limits: JailLimits | None = None
    read_only: tuple[Path, ...] = ()


@dataclass(frozen=True)
class HostSupport:
    """What this host lets a jail use, and why not where it cannot."""

    bwrap: str | None
    bwrap_version: str | None
    is_root: bool
    unprivileged_userns: bool
    cgroup_mode: CgroupMode
    tripwire: bool
    loop_disk: bool
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def can_jail(self) -> bool:
        """True when a jail with its own network and identity can be built here."""
        return self.bwrap is not None and self.is_root and not self.problems
