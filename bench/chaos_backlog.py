"""A gateway's sidecar killed and started again: the backlog it receives and its readiness.

`pubsub-broadcast` gives each sidecar its own consumer group, and Dapr's Redis Streams
component creates a new group at the head of the retained stream, so a restarted
sidecar receives what the stream still holds. For each broadcast cap (`maxLenApprox`)
in one invocation: the chaos platform (two gateways, run-api, auth, no runner), the
`run-events` stream filled through run-api's daprd, then `kill -9` of the first
gateway's daprd (the harness starts it again 2 s later) while its `/readyz` is probed
every 0.25 s. Prints, per cap: entries retained, messages the gateway received after
its sidecar came back, seconds to ready, `/readyz` latency and the gateway's CPU.

    uv run python -m bench.chaos_backlog --caps 10000,1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import stoppable
from tests.support.chaos.backlog import (
    live_messages_settled,
    publish_run_events,
    set_stream_cap,
    stream_length,
)
from tests.support.chaos.cluster import chaos_cluster
from tests.support.platform import Platform, Replica

PROBE_SECONDS = 0.25


async def _probe(gateway: Replica, seconds: float) -> list[tuple[float, int, float]]:
    """(seconds since start, status or 0 for no answer, answer seconds) every 0.25 s."""
    samples: list[tuple[float, int, float]] = []
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10.0) as client:
        while (sent := time.monotonic()) - started < seconds:
            try:
                status = (await client.get(f"{gateway.url}/readyz")).status_code
            except httpx.HTTPError:
                status = 0
            samples.append((sent - started, status, time.monotonic() - sent))
            await asyncio.sleep(max(0.0, PROBE_SECONDS - (time.monotonic() - sent)))
    return samples


def _readiness(samples: list[tuple[float, int, float]], restarted: float) -> dict[str, Any]:
    after = [s for s in samples if s[0] >= restarted]
    ready = [s for s in after if s[1] == 200]
    latencies = sorted(s[2] for s in after)
    first_ready = ready[0][0] + ready[0][2] - restarted if ready else None
    return {
        "ready_after_restart_s": None if first_ready is None else round(first_ready, 1),
        "probes": len(after),
        "not_ready_probes": len(after) - len(ready),
        "latency_p50_ms": round(1000 * statistics.median(latencies)) if latencies else None,
        "latency_max_ms": round(1000 * latencies[-1]) if latencies else None,
        "slow_probes_over_2s": sum(1 for x in latencies if x > 2.0),
    }


async def one_cap(cap: int, fill: int, watch: float, workdir: Path) -> dict[str, Any]:
    """The platform with this cap; fill, kill the first gateway's daprd, measure."""

    def prepare(platform: Platform) -> None:
        set_stream_cap(platform.components, cap)

    async with chaos_cluster(workdir, runners=0, prepare=prepare) as cluster:
        gateway, publisher = cluster.gateways[0], cluster.platform.replica("run-api")
        await publish_run_events(publisher, fill)
        filled = time.monotonic()
        received_before = await live_messages_settled(cluster.platform, gateway, timeout=600)
        settle = time.monotonic() - filled
        retained = await stream_length(cluster.redis.host)
        app = psutil.Process(gateway.app.pid)
        cpu_before = sum(app.cpu_times()[:2])
        load = os.getloadavg()[0]
        killed = time.monotonic()
        probing = asyncio.create_task(_probe(gateway, watch))
        os.kill(gateway.daprd.pid, signal.SIGKILL)
        while not cluster.sidecar_restarts.get(gateway.name):  # noqa: ASYNC110 - the supervisor
            await asyncio.sleep(0.1)
        restarted = time.monotonic() - killed
        samples = await probing
        cpu = sum(app.cpu_times()[:2]) - cpu_before
        received = await live_messages_settled(cluster.platform, gateway) - received_before
    return {
        "cap": cap,
        "published": fill,
        "received_all_s": round(settle, 1),
        "retained_at_kill": retained,
        "received_after_restart": received,
        "sidecar_back_s": round(restarted, 1),
        **_readiness(samples, restarted),
        "gateway_cpu_s": round(cpu, 1),
        "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
        "samples": [[round(t, 2), s, round(d, 3)] for t, s, d in samples],
    }


async def main(args: argparse.Namespace) -> None:
    results = []
    for cap in (int(c) for c in args.caps.split(",")):
        workdir = Path(tempfile.mkdtemp(prefix=f"dursor-backlog-{cap}-"))
        try:
            figures = await one_cap(cap, args.fill, args.watch, workdir)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        print({k: v for k, v in figures.items() if k != "samples"}, flush=True)
        results.append(figures)
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(results, indent=2))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caps", default="10000,1000", help="maxLenApprox of each arm")
    parser.add_argument("--fill", type=int, default=10000, help="run events published first")
    parser.add_argument("--watch", type=float, default=40.0, help="seconds probed from the kill")
    parser.add_argument("--json", help="write every figure (and each probe) to this file")
    return parser.parse_args()


if __name__ == "__main__":
    stoppable.run(main(parse()))
