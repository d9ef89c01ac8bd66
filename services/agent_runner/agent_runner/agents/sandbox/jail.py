"""A jail per agent turn on bubblewrap: its own uid, filesystem view, processes, network.

The jail is a command prefix, so whatever starts agent processes (the runner's process
guard, a test) starts a jailed one by prepending it:

    sh -c 'join the cgroup; exec "$@"'          (root; only with control groups)
    nsenter --net=/proc/<runner>/fd/<n>          (root: the runner-made network namespace)
    bwrap <namespaces> <filesystem> --            (root: mounts, pid/ipc/uts/cgroup ns)
    setpriv --reuid=<jail uid> … --               (drops root: a uid of the jail's own)
    prlimit <rlimits> --
    bwrap --unshare-user --disable-userns …  --   (unprivileged: no nested user namespaces)
    <agent argv>

bubblewrap runs as root for its setup so it can bind folders root may read but the
jail's uid may not reach (the CLIs in root's home cache); the agent itself never holds
a capability or a uid another process shares. `--die-with-parent` and the pid namespace
end every process of the jail with its first one (a `setsid` child included); the
control group (or the jail's uid) kills anything left at the end. The environment the
caller starts the command with reaches the agent as it is (plus the proxy variables):
the caller passes only what the agent needs, never the runner's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex

import structlog

from agent_runner.agents.sandbox.cgroups import CgroupLayout, RunCgroup
from agent_runner.agents.sandbox.destinations import EgressError
from agent_runner.agents.sandbox.egress import Egress
from agent_runner.agents.sandbox.etc import EtcTemplate
from agent_runner.agents.sandbox.filesystem import (
    HOSTNAME,
    JailIdentityFiles,
    JailLayout,
    identity_files,
)
from agent_runner.agents.sandbox.host import probe
from agent_runner.agents.sandbox.identity import IdentityPool, JailIdentity, hand_over
from agent_runner.agents.sandbox.limits import GUARANTEES, rlimit_options
from agent_runner.agents.sandbox.netns import JailNetwork, open_network
from agent_runner.agents.sandbox.policy import SandboxPolicy, SandboxVerdict, decide
from agent_runner.agents.sandbox.schemas import (
    EgressPolicy,
    GiB,
    HostSupport,
    JailLimits,
    JailRequest,
    RefusalHook,
)

log = structlog.get_logger(__name__)

# One lock folder for the whole host, not per state folder: every runner on it (several
# platforms, test workers) draws jail uids from the same range, and two live jails must
# never share one. /run is emptied at boot, when no jail can be alive.
HOST_UID_LOCKS = Path("/run/dursor-sandbox/uids")

INSIDE_UID = 1000
KILL_WAIT_SECONDS = 5.0
KILL_POLL_SECONDS = 0.005
# Below this much free space on the worktree's filesystem the disk counts as full.
DISK_FULL_BYTES = 1 << 20
NAMESPACES = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    HOSTNAME,
    "--die-with-parent",
    "--new-session",
)


@dataclass(frozen=True)
class JailReport:
    """What the jail's limits and egress did to the agent, for the run's failure reason."""

    oom_kills: int
    fork_refusals: int
    refused_connections: int
    disk_free_bytes: int

    def reason(self, limits: JailLimits) -> str | None:
        """Sentences saying which limits stopped the agent, or None when none did."""
        found = []
        if self.oom_kills:
            found.append(f"the agent ran out of memory (limit {limits.memory_bytes / GiB:.1f} GiB)")
        if self.fork_refusals:
            found.append(f"the agent hit its limit of {limits.pids} tasks")
        if self.disk_free_bytes < DISK_FULL_BYTES:
            found.append("the run's disk is full")
        if self.refused_connections:
            found.append(f"the jail refused {self.refused_connections} network connection(s)")
        return "; ".join(found) or None


class Jail:
    """One live jail: prefix agent commands with `command`; built and removed by Sandbox."""

    def __init__(
        self,
        request: JailRequest,
        identity: JailIdentity,
        sandbox: Sandbox,
        layout: JailLayout,
        cgroup: RunCgroup | None,
        network: JailNetwork,
        egress: Egress,
    ) -> None:
        self.request = request
        self.limits = request.limits or sandbox.policy.limits
        self.identity = identity
        self.cgroup = cgroup
        self.network = network
        self.egress = egress
        self._sandbox = sandbox
        self._layout = layout

    @property
    def inside_uid(self) -> int:
        """The agent's uid as it sees it (the host sees `identity.uid`)."""
        return INSIDE_UID if self._sandbox.support.unprivileged_userns else self.identity.uid

    def environment(self) -> dict[str, str]:
        """Variables the jail adds to the agent's environment (its proxy)."""
        return self.egress.environment()

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this jail."""
        tools = self._sandbox.tools
        chain = [tools["nsenter"], f"--net={self.network.nsenter_path()}", "--"]
        chain += [tools["bwrap"], *self._bwrap_args(), "--", *self._drop_root(), *argv]
        if self.cgroup is None:
            return chain
        joins = "".join(f"echo $$ > {shlex.quote(str(p))}; " for p in self.cgroup.procs_files())
        return ["/bin/sh", "-c", f'set -e; {joins}exec "$@"', "dursor-jail", *chain]

    def _bwrap_args(self) -> list[str]:
        args = [*NAMESPACES, *self._layout.bwrap_args(), "--chdir", str(self.request.workspace)]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        return args

    def _drop_root(self) -> list[str]:
        tools, uid = self._sandbox.tools, self.identity.uid
        mode = self._sandbox.support.cgroup_mode
        stage = [tools["setpriv"], f"--reuid={uid}", f"--regid={self.identity.gid}"]
        stage += ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
        stage += [tools["prlimit"], *rlimit_options(self.limits, mode), "--"]
        if self._sandbox.support.unprivileged_userns:
            stage += [tools["bwrap"], "--unshare-user", "--disable-userns", "--dev-bind", "/", "/"]
            stage += ["--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID)]
            stage += ["--chdir", str(self.request.workspace), "--"]
        return stage

    def pids(self) -> set[int]:
        """The jail's processes as the host numbers them (its control group, else its uid)."""
        if self.cgroup is not None:
            return self.cgroup.pids()
        return uid_processes(self.identity.uid)

    def signal_all(self, sig: signal.Signals) -> None:
        """Send `sig` to every process of the jail."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    async def terminate(self, grace_seconds: float) -> None:
        """SIGTERM every process of the jail; SIGKILL whatever outlives the grace period."""
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while self.pids() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls the kernel
            await asyncio.sleep(0.05)
        await self.kill()

    async def kill(self) -> None:
        """SIGKILL every process of the jail and wait until none is left."""
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while True:
            self.signal_all(signal.SIGKILL)
            left = self.pids()
            if not left or time.monotonic() > deadline:
                break
            await asyncio.sleep(KILL_POLL_SECONDS)

    def report(self) -> JailReport:
        """Counters of this jail so far."""
        events = self.cgroup.events() if self.cgroup is not None else None
        return JailReport(
            oom_kills=events.oom_kills if events else 0,
            fork_refusals=events.fork_refusals if events else 0,
            refused_connections=self.egress.refused.count,
            disk_free_bytes=_free_bytes(self.request.workspace),
        )

    def reason(self) -> str | None:
        """Which limit stopped the agent so far, as a sentence for the run's end."""
        return self.report().reason(self.limits)


class Sandbox:
    """Builds jails on this host; one per worker, probed when it opens."""

    def __init__(
        self, policy: SandboxPolicy, support: HostSupport, verdict: SandboxVerdict
    ) -> None:
        self.policy = policy
        self.support = support
        self.verdict = verdict
        self.tools = _tools(policy, support)
        self._identities = IdentityPool(HOST_UID_LOCKS, policy.uid_base, policy.uid_count)
        self._cgroups: CgroupLayout | None = None
        self._etc = EtcTemplate(policy.state_dir / "etc", policy.state_dir / "jails")

    @classmethod
    async def open(cls, policy: SandboxPolicy) -> Sandbox:
        """Probe the host and decide; raises SandboxUnavailable when agents may not run."""
        support = await probe(policy)
        verdict = decide(support, policy)
        if verdict.warning:
            log.warning(verdict.warning)
        else:
            log.info(
                "agent sandbox ready",
                bwrap=support.bwrap_version,
                limits=GUARANTEES[support.cgroup_mode],
                tripwire=support.tripwire,
                user_namespaces=support.unprivileged_userns,
            )
        return cls(policy, support, verdict)

    def _cgroup_layout(self) -> CgroupLayout | None:
        if self.support.cgroup_mode == "none":
            return None
        if self._cgroups is None:
            layout = CgroupLayout.detect(parent=self.policy.cgroup_parent)
            layout.prepare()
            self._cgroups = layout
        return self._cgroups

    @contextlib.asynccontextmanager
    async def jail(self, request: JailRequest, on_refused: RefusalHook) -> AsyncIterator[Jail]:
        """A jail for one turn; everything it made is gone when the block ends."""
        if not self.verdict.jailed:
            raise RuntimeError("the sandbox is unjailed: run the agent without a jail")
        async with contextlib.AsyncExitStack() as stack:
            identity = self._identities.acquire(request.run_id)
            stack.callback(identity.release)
            etc_dir = self._etc.acquire()
            stack.callback(self._etc.release, etc_dir)
            jail = await self._build(request, identity, etc_dir, on_refused, stack)
            stack.push_async_callback(jail.kill)
            yield jail

    async def _build(
        self,
        request: JailRequest,
        identity: JailIdentity,
        etc_dir: Path,
        on_refused: RefusalHook,
        stack: contextlib.AsyncExitStack,
    ) -> Jail:
        egress = Egress(self._egress_policy(request), on_refused, self.policy.refusal_report_limit)
        for folder in (request.workspace, request.home):
            await asyncio.to_thread(hand_over, folder, identity.uid, identity.gid)
        layout = self._layout(request, identity, etc_dir, egress)
        cgroup = self._make_cgroup(f"{request.run_id[:8]}-{token_hex(4)}", request)
        if cgroup is not None:
            stack.push_async_callback(cgroup.remove)
        network = await asyncio.to_thread(open_network, egress.binds(), self.support.tripwire)
        stack.callback(network.close)
        stack.push_async_callback(egress.close)
        await egress.start(network)
        return Jail(request, identity, self, layout, cgroup, network, egress)

    def _limits(self, request: JailRequest) -> JailLimits:
        return request.limits or self.policy.limits

    def _egress_policy(self, request: JailRequest) -> EgressPolicy:
        """The run's egress plus the operator's allowlist and watched ports."""
        wanted, policy = request.egress, self.policy
        if not policy.allow_loopback_upstreams:
            for upstream in wanted.upstreams:
                if upstream.is_loopback():
                    raise EgressError(
                        f"the model base URL {upstream.host}:{upstream.port} is on this host's "
                        "loopback; jails reach it only when the operator allows loopback upstreams"
                    )
        return EgressPolicy(
            upstreams=wanted.upstreams,
            allowed_hosts=(*policy.allowed_hosts, *wanted.allowed_hosts),
            watched_ports=tuple(dict.fromkeys((*policy.watched_ports, *wanted.watched_ports))),
        )

    def _layout(
        self, request: JailRequest, identity: JailIdentity, etc_dir: Path, egress: Egress
    ) -> JailLayout:
        inside = INSIDE_UID if self.support.unprivileged_userns else identity.uid
        who = JailIdentityFiles(inside, inside, request.home)
        self._etc.fill(etc_dir, identity_files(who, egress.hosts_file()))
        read_only = (*self.policy.read_only, *request.read_only)
        layout = JailLayout(
            request.workspace, request.home, read_only, etc_dir, self._limits(request).tmp_bytes
        )
        layout.validate()
        return layout

    def _make_cgroup(self, name: str, request: JailRequest) -> RunCgroup | None:
        layout = self._cgroup_layout()
        return RunCgroup.create(layout, name, self._limits(request)) if layout else None


def _tools(policy: SandboxPolicy, support: HostSupport) -> dict[str, str]:
    found = {name: shutil.which(name) for name in ("nsenter", "setpriv", "prlimit")}
    tools = {name: path or name for name, path in found.items()}
    return tools | {"bwrap": support.bwrap or policy.bwrap}


def _free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def uid_processes(uid: int) -> set[int]:
    """Every live process whose real uid is `uid` (a jail's uid is its own)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _real_uid(entry) == uid:
            found.add(int(entry.name))
    return found


def _real_uid(proc: Path) -> int | None:
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
            if line.startswith("State:") and line.split()[1] == "Z":
                return None
    except (OSError, ValueError, IndexError):
        return None
    return None
