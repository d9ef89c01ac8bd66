"""The operator's sandbox settings, and whether this host may run agents at all.

Agents run jailed, or not at all: a host that cannot build a jail refuses to run them,
unless the operator explicitly allows unjailed agents, which then run with a loud
warning in the worker's log and in every run's log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent_runner.agents.sandbox.schemas import HostSupport, JailLimits

# Above the usual login range (1000-60000) and the first subordinate-id ranges
# (100000-165535), and small enough for tar's classic uid field (below 2097152).
DEFAULT_UID_BASE = 1_100_000
DEFAULT_UID_COUNT = 65_536


class SandboxUnavailable(Exception):
    """This host cannot jail agents and the operator did not allow running them unjailed."""


@dataclass(frozen=True)
class SandboxPolicy:
    """How jails are built on this worker."""

    state_dir: Path
    allow_unjailed: bool = False
    bwrap: str = "bwrap"
    uid_base: int = DEFAULT_UID_BASE
    uid_count: int = DEFAULT_UID_COUNT
    # A cgroup path below the hierarchy's root (v1: below each controller's root);
    # None: `dursor-jails` on v1, the runner's own group on v2.
    cgroup_parent: str | None = None
    # False: rlimits only, even where control groups are writable (tests the fallback).
    use_cgroups: bool = True
    limits: JailLimits = field(default_factory=JailLimits)
    # Folders every jail may read (the agent CLIs' install folder, for instance).
    read_only: tuple[Path, ...] = ()
    # Hosts every jail may reach through its HTTPS proxy (package registries).
    allowed_hosts: tuple[str, ...] = ()
    # Loopback ports of this host whose probes from a jail are reported.
    watched_ports: tuple[int, ...] = ()
    refusal_report_limit: int = 100
    # A model base URL on this host's loopback (a local model server) is relayed into
    # the jail only when the operator says so: it would otherwise open a way to
    # whatever listens there (the sidecar, Postgres) for anyone who picks the URL.
    allow_loopback_upstreams: bool = False


@dataclass(frozen=True)
class SandboxVerdict:
    """Whether agents run jailed here, and the warning to repeat when they do not."""

    jailed: bool
    warning: str | None = field(default=None)


def decide(support: HostSupport, policy: SandboxPolicy) -> SandboxVerdict:
    """Jailed when the host can; unjailed only when allowed; else SandboxUnavailable."""
    if support.can_jail:
        return SandboxVerdict(jailed=True)
    reasons = "; ".join(support.problems) or "bubblewrap is not usable"
    if not policy.allow_unjailed:
        raise SandboxUnavailable(
            f"agents cannot be jailed on this host ({reasons}); refusing to run them. "
            "Allowing unjailed agents is an explicit setting."
        )
    return SandboxVerdict(
        jailed=False,
        warning=(
            f"AGENTS RUN UNJAILED: {reasons}. An agent can read everything this worker "
            "can read (secrets, other runs, the local databases) and reach its network."
        ),
    )
