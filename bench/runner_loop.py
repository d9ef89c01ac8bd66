"""Runner readiness under steady load: the runner on uvloop against the standard loop.

The chaos platform (two gateways, run-api, auth, two runners, each with its daprd, on
private PostgreSQL and Redis) takes a steady stream of `chaos` runs (ten lines 0.2 s
apart, a file changed) with a watcher each, once with the runners started the old way
(`uvicorn agent_runner.app:create_app`: uvloop) and once through `python -m
agent_runner` (the standard loop). Meanwhile every runner's `/readyz` is asked every
0.5 s (as a probe would, 10 s timeout) and its latency kept; the runners' CPU time (own,
and their children's: git, the guard, the jail, the agents) is divided by the runs that
ended. Run it where the runners compete for CPU (a loaded host, or a CPU quota):

    uv run python -m bench.runner_loop --seconds 120 --interval 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import platform as platform_module
from tests.support.chaos.cluster import ChaosCluster, chaos_cluster
from tests.support.chaos.faults import scenario_task
from tests.support.chaos.ledger import wait_terminal
from tests.support.chaos.load import Clients, Load

SLOW_SECONDS = 2.0


async def probe(cluster: ChaosCluster, stop: asyncio.Event, latencies: list[float]) -> None:
    """Every runner's `/readyz` every 0.5 s; latency (10 s when no answer came)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        while not stop.is_set():

            async def one(url: str) -> float:
                asked = time.monotonic()
                try:
                    await client.get(f"{url}/readyz")
                except httpx.HTTPError:
                    return 10.0
                return time.monotonic() - asked

            latencies.extend(await asyncio.gather(*(one(r.url) for r in cluster.runners)))
            await asyncio.sleep(0.5)


def runner_cpu(cluster: ChaosCluster) -> tuple[float, float]:
    """CPU seconds of the runners so far: their own, and their reaped children's."""
    own = children = 0.0
    for runner in cluster.runners:
        times = psutil.Process(runner.app.pid).cpu_times()
        own += times.user + times.system
        children += times.children_user + times.children_system
    return own, children


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def one_arm(workdir: Path, loop: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start the platform with the runners on `loop`, load it, measure."""
    modules = platform_module.SERVER_MODULES
    if loop == "uvloop":
        modules = {k: v for k, v in modules.items() if k != "agent-runner"}
    original, platform_module.SERVER_MODULES = platform_module.SERVER_MODULES, modules
    try:
        async with chaos_cluster(workdir) as cluster:
            return await _measure(cluster, loop, args)
    finally:
        platform_module.SERVER_MODULES = original


async def _measure(cluster: ChaosCluster, loop: str, args: argparse.Namespace) -> dict[str, Any]:
    task_id = await scenario_task(cluster, f"loop-{loop}")
    clients = Clients([g.url for g in cluster.gateways], cluster.platform.bearer("developer"))
    load, stop = Load(clients, task_id, "chaos"), asyncio.Event()
    latencies: list[float] = []
    engine = create_async_engine(cluster.platform.database_url)
    loads, cpu_before = [os.getloadavg()[0]], runner_cpu(cluster)
    try:
        tasks = [asyncio.create_task(load.steady(args.interval, stop))]
        tasks.append(asyncio.create_task(probe(cluster, stop, latencies)))
        await asyncio.sleep(args.seconds)
        stop.set()
        await asyncio.gather(*tasks)
        left = await wait_terminal(engine, set(load.accepted), timeout=120)
        cpu_after = runner_cpu(cluster)
        loads.append(os.getloadavg()[0])
    finally:
        load.stop_watching()
        await engine.dispose()
        await clients.aclose()
    runs = len(load.accepted) - len(left)
    return {
        "loop": loop,
        "runs": runs,
        "readyz_p50_s": round(percentile(latencies, 0.5), 2),
        "readyz_p90_s": round(percentile(latencies, 0.9), 2),
        "readyz_p99_s": round(percentile(latencies, 0.99), 2),
        "readyz_max_s": round(max(latencies), 2),
        "readyz_over_2s": f"{sum(x > SLOW_SECONDS for x in latencies)}/{len(latencies)}",
        "runner_cpu_ms_per_run": round(1000 * (cpu_after[0] - cpu_before[0]) / max(runs, 1)),
        "children_cpu_ms_per_run": round(1000 * (cpu_after[1] - cpu_before[1]) / max(runs, 1)),
        "load_average": [round(x, 1) for x in loads],
    }


async def main(args: argparse.Namespace) -> None:
    root = Path(args.keep or tempfile.mkdtemp(prefix="dursor-runner-loop-"))
    rows = []
    for loop in args.loops.split(","):
        rows.append(await one_arm(root / loop, loop, args))
        print(rows[-1], flush=True)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="load per arm")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between runs")
    parser.add_argument("--loops", default="uvloop,asyncio", help="arms, in order")
    parser.add_argument("--keep", help="work in this folder and keep it (logs)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
