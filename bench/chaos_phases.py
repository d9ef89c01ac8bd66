"""The two long phases of `bench.chaos`: a burst of runs on 2 then 4 runners, and a soak."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from uuid import UUID

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.support.chaos.cluster import ChaosCluster
from tests.support.chaos.faults import scenario_task
from tests.support.chaos.ledger import Verdict, judge_runs, wait_terminal
from tests.support.chaos.load import Clients, Load
from tests.support.chaos.soak import (
    ANON,
    FDS,
    FIT_SKIP,
    RSS,
    TREES,
    Series,
    cpu_seconds,
    steady_soak,
)

PER_REQUEST = 8
# The soak's table: anonymous RSS is judged (slopes KiB/min, growth and noise KiB).
SOAK_COLUMNS = (
    ("process", "process"),
    ("processes", "processes"),
    ("anon_mib", "anon MiB"),
    ("rss_mib", "RSS MiB"),
    ("kib_per_min", "anon KiB/min (20-100 %)"),
    ("growth_kib", "growth KiB"),
    ("noise_kib", "sigma KiB"),
    ("grows", "grows"),
    ("first_half_kib_per_min", "first half"),
    ("second_half_kib_per_min", "second half"),
    ("second_half_growth_kib", "its growth KiB"),
    ("second_half_noise_kib", "its sigma KiB"),
    ("grows_in_second_half", "grows in it"),
    ("fds", "mean fds"),
    ("fds_per_min", "fds/min"),
    ("fds_grow", "fds grow"),
)


async def _burst_once(cluster: ChaosCluster, runs: int) -> dict[str, Any]:
    platform = cluster.platform
    task_id = await scenario_task(cluster, f"burst-{len(cluster.runners)}")
    clients = Clients([g.url for g in cluster.gateways], platform.bearer("developer"))
    load = Load(clients, task_id, "burst", watch=False)
    engine = create_async_engine(platform.database_url)
    loads = [os.getloadavg()[0]]
    cpu_before, machine_before = cpu_seconds(cluster), psutil.cpu_times()
    try:
        started = time.monotonic()
        gate = asyncio.Semaphore(8)

        async def one(count: int) -> None:
            async with gate:
                await load.submit(count)

        sizes = [PER_REQUEST] * (runs // PER_REQUEST) + [runs % PER_REQUEST] * bool(
            runs % PER_REQUEST
        )
        await asyncio.gather(*(one(n) for n in sizes))
        submitted = time.monotonic() - started
        left = await wait_terminal(engine, set(load.accepted), timeout=3600)
        elapsed = time.monotonic() - started
        loads.append(os.getloadavg()[0])
        cpu = _cpu_per_run(cpu_before, cpu_seconds(cluster), len(load.accepted))
        machine = _busy_share(machine_before, psutil.cpu_times())
        verdict = Verdict(f"burst on {len(cluster.runners)} runners")
        await judge_runs(engine, load, verdict)
        slots = await _slot_figures(engine, set(load.accepted), cluster.slots, elapsed)
    finally:
        await engine.dispose()
        await clients.aclose()
    return {
        "runners": len(cluster.runners),
        "runs": verdict.accepted,
        "refused": verdict.refused,
        "not_terminal": len(left),
        "lost": verdict.lost,
        "doubled": verdict.doubled,
        "failed": verdict.failed,
        "retried": verdict.retried,
        "submit_seconds": round(submitted, 1),
        "seconds": round(elapsed, 1),
        "runs_per_second": round(verdict.accepted / elapsed, 2),
        "load_average": [round(x, 1) for x in loads],
        "cpu_ms_per_run": cpu,
        # Of the two cores' time during the burst, the share the platform used ...
        "cpu_share_of_two_cores": round(sum(cpu.values()) * verdict.accepted / 2000 / elapsed, 2),
        # ... and the share every process of the machine used (others' work included).
        "machine_busy_share": machine,
        **slots,
        "failure_reasons": verdict.failure_reasons[:5],
    }


def _busy_share(before: Any, after: Any) -> float:
    """Share of all cores' time spent busy between two `psutil.cpu_times()`."""
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return round(1 - idle / total, 2) if total > 0 else 0.0


async def _slot_figures(
    engine: AsyncEngine, run_ids: set[str], slots: int, elapsed: float
) -> dict[str, float]:
    """How long a run waited and held its slot, events per run, and the slots' busy share."""
    query = text(
        "SELECT avg(extract(epoch FROM started_at - queued_at)) AS wait,"
        " avg(extract(epoch FROM finished_at - started_at)) AS hold,"
        " sum(extract(epoch FROM finished_at - started_at)) AS held,"
        " avg(last_seq) AS events FROM runs WHERE id = ANY(:ids)"
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query, {"ids": [UUID(r) for r in run_ids]})).one()
    return {
        "queued_s_mean": round(float(row.wait or 0), 1),
        "slot_hold_s_mean": round(float(row.hold or 0), 2),
        "slots_busy_share": round(float(row.held or 0) / (slots * elapsed), 2),
        "events_per_run": round(float(row.events or 0), 1),
    }


def _cpu_per_run(before: dict[str, float], after: dict[str, float], runs: int) -> dict[str, int]:
    """Milliseconds of CPU per run, per kind of process, largest first."""
    spent = {kind: after[kind] - before.get(kind, 0.0) for kind in after}
    ordered = sorted(spent.items(), key=lambda item: -item[1])
    return {kind: round(1000 * seconds / max(runs, 1)) for kind, seconds in ordered}


async def burst(
    cluster: ChaosCluster, runs: int, replica_counts: tuple[int, ...] = (2, 4)
) -> dict[str, Any]:
    """The same burst on 2 and on 4 runner replicas; throughput ratio 4 vs 2.

    With one count only (a separate invocation per count keeps each short), no ratio.
    """
    results = []
    for replicas in replica_counts:
        added = [cluster.start_runner() for _ in range(replicas - len(cluster.runners))]
        await asyncio.gather(*(cluster.platform.wait_ready(r, timeout=180) for r in added))
        figures = await _burst_once(cluster, runs)
        print(f"burst: {figures}", flush=True)
        results.append(figures)
    if len(results) < 2:
        return {"bursts": results}
    ratio = results[-1]["runs_per_second"] / results[0]["runs_per_second"]
    print(
        f"burst throughput {replica_counts[-1]} vs {replica_counts[0]} runner replicas: "
        f"{ratio:.2f}x",
        flush=True,
    )
    return {"bursts": results, "ratio": round(ratio, 2)}


def slopes(series: dict[str, Series]) -> list[dict[str, Any]]:
    """Per process: anonymous RSS (the leak measure) and fds, slopes per minute, verdicts."""
    rows = []
    for name, s in sorted(_with_per_process(series).items()):
        memory_slope, memory_growth, memory_sigma = s.slope(ANON)
        rss_slope, _, _ = s.slope(RSS)
        fd_slope, _, _ = s.slope(FDS)
        # A leak keeps its slope to the end; memory that fills up to a bound bends.
        late = _half(s, 1)
        late_slope, late_growth, late_sigma = late.slope(ANON, skip=0.0)
        rows.append(
            {
                "process": name,
                "samples": len(s.samples),
                "processes": "{}-{}".format(*s.process_range()),
                "anon_mib": round(s.mean(ANON) / 2**20, 1),
                "rss_mib": round(s.mean(RSS) / 2**20, 1),
                "kib_per_min": round(memory_slope / 1024, 1),
                "first_half_kib_per_min": round(_half(s, 0).slope(ANON, skip=0.0)[0] / 1024, 1),
                "second_half_kib_per_min": round(late_slope / 1024, 1),
                "growth_kib": round(memory_growth / 1024, 1),
                "noise_kib": round(memory_sigma / 1024, 1),
                "grows": s.grows(ANON),
                "second_half_growth_kib": round(late_growth / 1024, 1),
                "second_half_noise_kib": round(late_sigma / 1024, 1),
                "grows_in_second_half": late.grows(ANON, skip=0.0),
                "rss_kib_per_min": round(rss_slope / 1024, 1),
                "fds": round(s.mean(FDS), 1),
                "fds_per_min": round(fd_slope, 2),
                "fds_grow": s.grows(FDS),
            }
        )
    return rows


def _with_per_process(series: dict[str, Series]) -> dict[str, Series]:
    """Every series, and beside each tree that had children (PostgreSQL) its per-process mean."""
    trees = [series[t] for t in TREES if t in series and series[t].process_range()[1] > 1]
    derived = {s.name: s for s in (tree.per_process() for tree in trees)}
    return {**series, **derived}


def _half(series: Series, half: int) -> Series:
    """The first (0) or second (1) half of the fitted window (20-60, 60-100 %) as a series."""
    kept = series.samples[int(len(series.samples) * FIT_SKIP) :]
    middle = len(kept) // 2
    return Series(series.name, kept[:middle] if half == 0 else kept[middle:])


async def soak(cluster: ChaosCluster, seconds: float, interval: float) -> dict[str, Any]:
    """Steady runs and watchers for `seconds`, every process sampled; slopes and a verdict."""
    result = await steady_soak(cluster, seconds, interval, every=max(5.0, seconds / 120))
    rows = slopes(result.series)
    for row in rows:
        print(f"soak: {row}", flush=True)
    print(f"soak verdict: {result.verdict.row()}", flush=True)
    for name, size in result.streams_after.items():
        if size.entries:
            print(f"redis stream {name}: {size.entries} entries, {size.bytes} bytes", flush=True)
    return {
        "seconds": seconds,
        "load_average": result.load_average,
        "processes": rows,
        "verdict": result.verdict.row(),
        "streams": {
            "before": {k: v._asdict() for k, v in result.streams_before.items()},
            "after": {k: v._asdict() for k, v in result.streams_after.items()},
        },
        # (seconds, RSS, fds, anonymous RSS, processes) of each process: whether a slope flattens.
        "samples": {name: s.samples for name, s in result.series.items()},
    }
