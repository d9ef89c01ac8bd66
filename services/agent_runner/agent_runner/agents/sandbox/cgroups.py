"""One control group per jail, on cgroup v2 or v1: memory, tasks and CPU, and kill-all.

v2 (current distributions, Container Apps hosts): one directory holds every limit and
`cgroup.kill`. Controllers are usable only below a parent that enables them in its
`cgroup.subtree_control`, and a group that holds processes cannot enable them (the
"no internal processes" rule), so a runner that owns its own group moves itself into a
leaf `runner/` first. v1 (this project's build machines): one directory per controller
hierarchy (`memory/`, `pids/`, `cpu/`), no `cgroup.kill`, so kill-all signals every
listed task until none is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from agent_runner.agents.sandbox.schemas import CgroupMode, JailLimits

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
V2_CONTROLLERS = ("memory", "pids", "cpu")
DEFAULT_V1_PARENT = "dursor-jails"
CPU_PERIOD_US = 100_000
KILL_ROUNDS = 50


class CgroupError(Exception):
    """A control group could not be created, limited or removed."""


@dataclass(frozen=True)
class CgroupLayout:
    """Where jails' groups go: the mode and one parent directory per hierarchy."""

    mode: CgroupMode
    # (hierarchy, parent directory): "unified" on v2, the controller's name on v1.
    parents: tuple[tuple[str, Path], ...]

    @classmethod
    def detect(cls, root: Path = CGROUP_ROOT, parent: str | None = None) -> CgroupLayout:
        """v2 when the unified hierarchy has the controllers, else v1 when writable, else none."""
        if _v2_has_controllers(root):
            return cls("v2", (("unified", root / (parent or _own_v2_group(root))),))
        found = tuple(
            (name, root / name / (parent or DEFAULT_V1_PARENT))
            for name in V1_CONTROLLERS
            if (root / name / "cgroup.procs").exists() and os.access(root / name, os.W_OK)
        )
        return cls("v1", found) if found else cls("none", ())

    def prepare(self) -> None:
        """Create the parent groups; on v2 also delegate the controllers to jails."""
        for _, parent in self.parents:
            parent.mkdir(parents=True, exist_ok=True)
        if self.mode == "v2":
            _delegate_v2(self.parents[0][1])


def _v2_has_controllers(root: Path) -> bool:
    try:
        available = (root / "cgroup.controllers").read_text().split()
    except OSError:
        return False
    return {"memory", "pids"} <= set(available)


def _own_v2_group(root: Path) -> str:
    """This process's v2 group relative to the mount (`0::/path` in /proc/self/cgroup)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:].strip("/")
    raise CgroupError("this process has no cgroup v2 membership")


def _delegate_v2(parent: Path) -> None:
    """Enable the controllers below `parent`, moving its own processes to a leaf first."""
    procs = [p for p in (parent / "cgroup.procs").read_text().split() if p]
    if procs:
        leaf = parent / "runner"
        leaf.mkdir(exist_ok=True)
        for pid in procs:
            with contextlib.suppress(ProcessLookupError, OSError):
                (leaf / "cgroup.procs").write_text(pid)
    # cpu may be missing (not delegated): memory and pids are what jails cannot do without.
    available = set((parent / "cgroup.controllers").read_text().split())
    wanted = " ".join(f"+{name}" for name in V2_CONTROLLERS if name in available)
    (parent / "cgroup.subtree_control").write_text(wanted)


@dataclass(frozen=True)
class CgroupEvents:
    """What the kernel counted while the jail ran: OOM kills and refused forks."""

    oom_kills: int = 0
    fork_refusals: int = 0


class RunCgroup:
    """The group(s) of one jail: limits written at creation, killed and removed at the end."""

    def __init__(self, mode: CgroupMode, groups: tuple[tuple[str, Path], ...]) -> None:
        self.mode = mode
        self.groups = groups
        self.directories = tuple(directory for _, directory in groups)

    @classmethod
    def create(cls, layout: CgroupLayout, name: str, limits: JailLimits) -> RunCgroup:
        """Make the jail's group below each parent and write its limits."""
        if layout.mode == "none":
            raise CgroupError("no usable control groups on this host")
        group = cls(layout.mode, tuple((kind, parent / name) for kind, parent in layout.parents))
        try:
            for directory in group.directories:
                directory.mkdir()
            group._write_limits(limits)
        except OSError as exc:
            group.remove_now()
            raise CgroupError(f"cannot create cgroup {name}: {exc}") from exc
        return group

    def _write_limits(self, limits: JailLimits) -> None:
        quota = max(1000, int(limits.cpu_cores * CPU_PERIOD_US))
        if self.mode == "v2":
            directory = self.directories[0]
            _write(directory / "memory.max", limits.memory_bytes)
            _write_if_present(directory / "memory.swap.max", 0)
            _write(directory / "pids.max", limits.pids)
            _write_if_present(directory / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            return
        for controller, directory in self.groups:
            if controller == "memory":
                _write(directory / "memory.limit_in_bytes", limits.memory_bytes)
                # With swap accounting, memory+swap gets the same cap: no swapping out.
                _write_if_present(directory / "memory.memsw.limit_in_bytes", limits.memory_bytes)
            elif controller == "pids":
                _write(directory / "pids.max", limits.pids)
            elif controller == "cpu":
                _write(directory / "cpu.cfs_period_us", CPU_PERIOD_US)
                _write(directory / "cpu.cfs_quota_us", quota)

    def procs_files(self) -> tuple[Path, ...]:
        """The files a process writes its pid into to join the jail's group(s)."""
        return tuple(directory / "cgroup.procs" for directory in self.directories)

    def pids(self) -> set[int]:
        """Every live process in the group (the union over v1 hierarchies)."""
        found: set[int] = set()
        for path in self.procs_files():
            with contextlib.suppress(FileNotFoundError):
                found |= {int(pid) for pid in path.read_text().split()}
        return found

    def signal_all(self, sig: signal.Signals) -> None:
        """Send `sig` to every process of the group."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL everything in the group, atomically on v2, round by round on v1."""
        kill_file = self.directories[0] / "cgroup.kill" if self.directories else None
        if self.mode == "v2" and kill_file is not None and kill_file.exists():
            kill_file.write_text("1")
            return
        for _ in range(KILL_ROUNDS):
            if not self.pids():
                return
            self.signal_all(signal.SIGKILL)

    def events(self) -> CgroupEvents:
        """OOM kills and fork refusals counted so far."""
        oom = forks = 0
        for directory in self.directories:
            oom += _counter(directory / "memory.events", "oom_kill")
            oom += _counter(directory / "memory.oom_control", "oom_kill")
            forks += _counter(directory / "pids.events", "max")
        return CgroupEvents(oom_kills=oom, fork_refusals=forks)

    async def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left, wait until the group is empty, then delete it."""
        deadline = time.monotonic() + timeout
        self.kill()
        while self.pids() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            self.kill()
        self.remove_now()

    def remove_now(self) -> None:
        """Delete the group's directories (the kernel refuses while a process is inside)."""
        for directory in self.directories:
            with contextlib.suppress(FileNotFoundError):
                directory.rmdir()


def _write(path: Path, value: object) -> None:
    path.write_text(str(value))


def _write_if_present(path: Path, value: object) -> None:
    if path.exists():
        _write(path, value)


def _counter(path: Path, key: str) -> int:
    """One `key value` line of a cgroup event or control file; 0 when absent."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0
