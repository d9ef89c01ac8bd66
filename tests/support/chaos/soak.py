"""Soak figures: every process's RSS and open file descriptors, sampled, and their slopes."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import psutil

from tests.support.chaos.cluster import ChaosCluster


@dataclass
class Series:
    """Samples of one process: (seconds since start, RSS bytes, open fds)."""

    name: str
    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def slope(self, column: int, skip: float = 0.2) -> tuple[float, float, float]:
        """Least-squares slope per minute of a column, the fitted growth and residual sigma.

        The first `skip` of the samples (start-up, caches filling) are left out.
        """
        kept = self.samples[int(len(self.samples) * skip) :]
        if len(kept) < 3:
            return 0.0, 0.0, 0.0
        xs = [s[0] / 60 for s in kept]
        ys = [float(s[column]) for s in kept]
        fit = statistics.linear_regression(xs, ys)
        residuals = [y - (fit.slope * x + fit.intercept) for x, y in zip(xs, ys, strict=True)]
        return fit.slope, fit.slope * (xs[-1] - xs[0]), statistics.pstdev(residuals)

    def grows(self, column: int) -> bool:
        """Growth beyond noise: fitted growth over the window > 3 sigma and > 2 % of the mean."""
        _, growth, sigma = self.slope(column)
        mean = statistics.fmean(s[column] for s in self.samples)
        return growth > 3 * sigma and growth > 0.02 * mean


def processes(cluster: ChaosCluster) -> dict[str, psutil.Process]:
    """Every process of the platform: apps, sidecars, the PostgreSQL postmaster, Redis."""
    found = {}
    for replica in cluster.apps:
        for label, popen in (("", replica.app), (".daprd", replica.daprd)):
            if popen.poll() is None:
                found[replica.name + label] = psutil.Process(popen.pid)
    for label, server in (("postgres", cluster.postgres.process), ("redis", cluster.redis.process)):
        if server is not None and server.poll() is None:
            found[label] = psutil.Process(server.pid)
    return found


def _measure(process: psutil.Process, tree: bool) -> tuple[int, int]:
    members = [process, *process.children(recursive=True)] if tree else [process]
    rss = fds = 0
    for member in members:
        try:
            rss += member.memory_info().rss
            fds += member.num_fds()
        except psutil.Error:
            continue
    return rss, fds


async def sample_forever(cluster: ChaosCluster, every: float, into: dict[str, Series]) -> None:
    """Sample until cancelled; PostgreSQL and Redis with their children (backends)."""
    started = time.monotonic()
    while True:
        for name, process in processes(cluster).items():
            tree = name in ("postgres", "redis")
            try:
                rss, fds = _measure(process, tree)
            except psutil.Error:
                continue
            series = into.setdefault(name, Series(name))
            series.samples.append((time.monotonic() - started, rss, fds))
        await asyncio.sleep(every)


def cpu_seconds(cluster: ChaosCluster) -> dict[str, float]:
    """CPU seconds used so far per kind of process, children that ended included.

    A runner's ended children (git, the process guard, the jail, the agent) count as
    "agent-runner children"; PostgreSQL is the postmaster with every backend, live or
    ended; "bench client" is this process (the load generator and watchers).
    """
    totals: dict[str, float] = {}
    for name, process in processes(cluster).items():
        app, _, sidecar = name.partition(".")
        kind = app if app in ("postgres", "redis") else app.rsplit("-", 1)[0]
        kind = f"daprd of {kind}" if sidecar else kind
        members = [process, *_descendants(process)] if kind == "postgres" else [process]
        for member in members:
            own, reaped = _times(member)
            totals[kind] = totals.get(kind, 0.0) + own
            label = kind if kind == "postgres" else f"{kind} children"
            totals[label] = totals.get(label, 0.0) + reaped
    totals["bench client"] = _times(psutil.Process())[0]
    return totals


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.Error:
        return []


def _times(process: psutil.Process) -> tuple[float, float]:
    """(own, ended children's) CPU seconds; zeros for a process that is gone."""
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0, 0.0
    return t.user + t.system, t.children_user + t.children_system
