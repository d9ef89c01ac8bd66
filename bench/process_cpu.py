"""CPU seconds per request, per process on a request's path, measured around a load block.

Each process's user + system CPU time (psutil) is read before and after a block and the
difference divided by the block's requests, so the split of a request's cost between
gateway, sidecars, apps, PostgreSQL and the load generator is a measured fact. PostgreSQL
backends are found by their database name in their process title (`postgres: role db …`);
the load generator is a child of this process, counted by `getrusage(RUSAGE_CHILDREN)`.
"Rest of machine" is the host's busy CPU not in any named process (other users' work).
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

LOAD_GENERATOR = "load generator (wrk)"
REST_OF_MACHINE = "rest of machine"


def _busy_seconds() -> float:
    """The host's CPU seconds not idle, over all cores, since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _process_seconds(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_backends(database: str) -> list[int]:
    """Server processes serving `database` (their title names the database second)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        words = line.split()
        if line.startswith("postgres: ") and len(words) > 2 and words[2] == database:
            found.append(process.pid)
    return found


@dataclass
class CpuSnapshot:
    """Each named process's CPU seconds (several pids may share a name)."""

    seconds: dict[str, dict[int, float]]
    children: float
    busy: float


@dataclass
class ProcessCpu:
    """Names the processes of a path and measures their CPU across blocks."""

    fixed: Mapping[str, int]
    dynamic: Mapping[str, Callable[[], list[int]]] = field(default_factory=dict)

    def snapshot(self) -> CpuSnapshot:
        """Every named process's CPU time now."""
        pids = {name: [pid] for name, pid in self.fixed.items()}
        pids |= {name: find() for name, find in self.dynamic.items()}
        seconds = {
            name: {pid: _process_seconds(pid) for pid in group} for name, group in pids.items()
        }
        return CpuSnapshot(seconds, _children_seconds(), _busy_seconds())

    @staticmethod
    def spent(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
        """CPU seconds per name between two snapshots (a process new since counts whole)."""
        used = {
            name: sum(max(0.0, s - before.seconds[name].get(pid, 0.0)) for pid, s in group.items())
            for name, group in after.seconds.items()
        }
        used[LOAD_GENERATOR] = after.children - before.children
        named = sum(used.values())
        used[REST_OF_MACHINE] = max(0.0, after.busy - before.busy - named)
        return used


def per_request_table(
    spent: Mapping[str, Mapping[str, float]], requests: Mapping[str, float]
) -> str:
    """µs of CPU per request, per process (rows) and target (columns)."""
    targets = list(spent)
    names = list(dict.fromkeys(name for target in targets for name in spent[target]))
    lines = ["CPU µs per request, by process (user + system, summed over the blocks)"]
    lines.append(f"{'process':34}" + "".join(f"{t:>14}" for t in targets))
    for name in names:
        cells = "".join(
            f"{1e6 * spent[t].get(name, 0.0) / max(requests[t], 1):>14.0f}" for t in targets
        )
        lines.append(f"{name:34}{cells}")
    on_path = {t: sum(v for n, v in spent[t].items() if n != REST_OF_MACHINE) for t in targets}
    lines.append(
        f"{'total on the path':34}"
        + "".join(f"{1e6 * on_path[t] / max(requests[t], 1):>14.0f}" for t in targets)
    )
    return "\n".join(lines)
