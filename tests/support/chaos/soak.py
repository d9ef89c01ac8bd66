"""Soak figures: every process's memory and open file descriptors, sampled, and their slopes.

A leak shows in anonymous resident memory (`RssAnon`: heaps, arenas, stacks), the
measure judged here for every process. RSS is sampled beside it but also counts file
pages: a daprd's ~60 MiB of its own 81 MB binary, read in as code runs for the first
time and shared by every sidecar on the host (bench.soak_daprd_heap), and each
PostgreSQL backend's view of the shared buffers, counted again per backend.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import psutil
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.chaos.cluster import ChaosCluster
from tests.support.chaos.faults import scenario_task
from tests.support.chaos.ledger import Verdict, judge_runs, judge_streams, wait_terminal
from tests.support.chaos.load import Clients, Load

RSS, FDS, ANON, PROCESSES = 1, 2, 3, 4
RESIDENT_LINE = re.compile(r"^(VmRSS|RssAnon|RssFile):\s+(\d+) kB", re.MULTILINE)
# The share of a series' first samples left out of a fit (start-up, caches filling).
FIT_SKIP = 0.2
# The process trees measured as a whole (PostgreSQL's backends, Redis's forks).
TREES = ("postgres", "redis")


class Usage(NamedTuple):
    """One process's (or tree's) memory and descriptors at one moment."""

    rss: int
    fds: int
    anon: int
    processes: int


@dataclass
class Series:
    """Samples of one process: (seconds since start, RSS, fds, anonymous RSS, processes)."""

    name: str
    samples: list[tuple[float, int, int, int, int]] = field(default_factory=list)

    def slope(self, column: int, skip: float = FIT_SKIP) -> tuple[float, float, float]:
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

    def grows(self, column: int, skip: float = FIT_SKIP) -> bool:
        """Growth beyond noise: fitted growth over the window > 3 sigma and > 2 % of the mean."""
        _, growth, sigma = self.slope(column, skip)
        return growth > 3 * sigma and growth > 0.02 * self.mean(column)

    def mean(self, column: int) -> float:
        """Mean of a column over every sample."""
        return statistics.fmean(s[column] for s in self.samples)

    def per_process(self) -> Series:
        """A tree's samples divided by its live processes: bigger members, or only more of them.

        A PostgreSQL tree's sum rises when its pools open another backend (each a few MiB
        of caches) as much as when a backend's own memory climbs; this view tells which.
        """
        averaged = [
            (t, rss // n, fds // n, anon // n, 1) for t, rss, fds, anon, n in self.samples if n > 0
        ]
        return Series(f"{self.name} per process", averaged)

    def process_range(self) -> tuple[int, int]:
        """Fewest and most live processes seen (a tree's members; 1 for a plain process)."""
        counts = [int(s[PROCESSES]) for s in self.samples] or [0]
        return min(counts), max(counts)


@dataclass
class SoakResult:
    """What a soak saw: the run ledger, every process's samples, Redis's streams.

    `rest_before` and `rest_after` measure each process (RSS, fds, anonymous RSS) with no run in
    flight and no watcher open: before the load starts and once every run has ended.
    """

    verdict: Verdict
    series: dict[str, Series]
    load_average: tuple[float, float]
    streams_before: dict[str, StreamSize]
    streams_after: dict[str, StreamSize]
    rest_before: dict[str, Usage]
    rest_after: dict[str, Usage]


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


def _measure(process: psutil.Process, tree: bool) -> Usage:
    members = [process, *process.children(recursive=True)] if tree else [process]
    rss = fds = anon = alive = 0
    for member in members:
        try:
            fds += member.num_fds()
            sizes = resident(member.pid)
        except (psutil.Error, OSError):
            continue  # a backend that ended between the listing and the read
        rss, anon, alive = rss + sizes["VmRSS"], anon + sizes["RssAnon"], alive + 1
    return Usage(rss, fds, anon, alive)


def resident(pid: int) -> dict[str, int]:
    """Resident bytes of a process: all (VmRSS), anonymous (RssAnon), file-backed (RssFile)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(v) * 1024 for k, v in RESIDENT_LINE.findall(status)}


def measure_all(cluster: ChaosCluster) -> dict[str, Usage]:
    """Memory and descriptors of every process now."""
    found = {}
    for name, process in processes(cluster).items():
        try:
            found[name] = _measure(process, name in TREES)
        except psutil.Error:
            continue
    return found


async def sample_forever(cluster: ChaosCluster, every: float, into: dict[str, Series]) -> None:
    """Sample until cancelled; PostgreSQL and Redis with their children (backends)."""
    started = time.monotonic()
    while True:
        for name, usage in measure_all(cluster).items():
            series = into.setdefault(name, Series(name))
            series.samples.append((time.monotonic() - started, *usage))
        await asyncio.sleep(every)


class StreamSize(NamedTuple):
    """A Redis stream's retained entries and the bytes Redis says the key takes."""

    entries: int
    bytes: int


async def stream_sizes(redis_host: str) -> dict[str, StreamSize]:
    """Every Redis stream (pub/sub topics, their dead letters): entries and memory."""
    async with Redis.from_url(f"redis://{redis_host}/0", decode_responses=True) as redis:
        keys = sorted([key async for key in redis.scan_iter(_type="STREAM")])
        return {
            key: StreamSize(
                int(await redis.xlen(key)), int(await redis.memory_usage(key, samples=0) or 0)
            )
            for key in keys
        }


async def steady_soak(
    cluster: ChaosCluster, seconds: float, interval: float, every: float
) -> SoakResult:
    """One run with its SSE watcher every `interval` s for `seconds`, every process sampled."""
    platform = cluster.platform
    task_id = await scenario_task(cluster, "soak")
    # The token outlives the soak (a developer's lasts an hour: past it every POST is a 401).
    token = platform.bearer("developer", ttl=int(seconds) + 3600)
    clients = Clients([g.url for g in cluster.gateways], token)
    load, stop = Load(clients, task_id, "chaos"), asyncio.Event()
    series: dict[str, Series] = {}
    streams_before = await stream_sizes(cluster.redis.host)
    rest_before = measure_all(cluster)
    sampler = asyncio.create_task(sample_forever(cluster, every, series))
    steady = asyncio.create_task(load.steady(interval, stop))
    engine = create_async_engine(platform.database_url)
    load_before = os.getloadavg()[0]
    try:
        await asyncio.sleep(seconds)
        load_after = os.getloadavg()[0]
        stop.set()
        await steady
        sampler.cancel()
        verdict = Verdict("soak")
        verdict.stuck = len(await wait_terminal(engine, set(load.accepted), timeout=120))
        await load.watchers_done(timeout=30)
        await judge_runs(engine, load, verdict)
        await judge_streams(engine, load, verdict)
        rest_after = measure_all(cluster)
    finally:
        sampler.cancel()
        # A soak cancelled midway (a signal) stops its load before closing its clients.
        stop.set()
        await asyncio.gather(steady, return_exceptions=True)
        load.stop_watching()
        await engine.dispose()
        await clients.aclose()
    streams_after = await stream_sizes(cluster.redis.host)
    return SoakResult(
        verdict,
        series,
        (load_before, load_after),
        streams_before,
        streams_after,
        rest_before,
        rest_after,
    )


def cpu_seconds(cluster: ChaosCluster) -> dict[str, float]:
    """CPU seconds used so far per kind of process, children that ended included.

    A runner's ended children (git, the process guard, the jail, the agent) count as
    "agent-runner children"; PostgreSQL is the postmaster with every backend, live or
    ended; "bench client" is this process (the load generator and watchers).
    """
    totals: dict[str, float] = {}
    for name, process in processes(cluster).items():
        app, _, sidecar = name.partition(".")
        kind = app if app in TREES else app.rsplit("-", 1)[0]
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
