"""The faults, and one scenario: load, fault, recovery, drain, verdict.

Who restarts what: PostgreSQL and Redis come back when the harness starts them again
(a managed server's maintenance does that in Azure); a daprd killed with SIGKILL is
started again on the same ports by the harness's supervisor (`cluster.supervise`), in
the role Container Apps plays for its sidecars (`dapr run -f` does not restart one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.chaos.cluster import REAPER_SECONDS, ChaosCluster
from tests.support.chaos.ledger import (
    Verdict,
    judge_answers,
    judge_runs,
    judge_streams,
    stuck_runs,
    wait_terminal,
)
from tests.support.chaos.load import Clients, Load
from tests.support.git_remote import make_remote
from tests.support.platform import Replica

# At recovery + lease + reaper interval no run may sit idle (running on an expired lease,
# or queued while a slot is free) for this long (a pull interval and a claim's worth) ...
IDLE_WINDOW_SECONDS = 5.0
# ... and every run must have ended within this long after recovery (the backlog drains).
DRAIN_TIMEOUT_SECONDS = 300.0
# Every service must answer ready again within this long after its dependency is back.
RECOVERY_BOUND_SECONDS = 30.0
Fault = Callable[[ChaosCluster, Verdict], Awaitable[None]]


def pg_restart(down_seconds: float) -> Fault:
    """PostgreSQL stops (fast shutdown), stays down, starts again with its data."""

    async def inject(cluster: ChaosCluster, verdict: Verdict) -> None:
        await asyncio.to_thread(cluster.postgres.stop)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(cluster.postgres.start)

    return inject


def redis_restart(down_seconds: float) -> Fault:
    """Redis is killed (its streams and keys are gone: no persistence) and started again."""

    async def inject(cluster: ChaosCluster, verdict: Verdict) -> None:
        await asyncio.to_thread(cluster.redis.stop)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(cluster.redis.start)

    return inject


def daprd_kill(pick: Callable[[ChaosCluster], Replica]) -> Fault:
    """kill -9 of one replica's daprd; the app must notice; the supervisor starts it again."""

    async def inject(cluster: ChaosCluster, verdict: Verdict) -> None:
        replica = pick(cluster)
        os.kill(replica.daprd.pid, signal.SIGKILL)
        await asyncio.to_thread(replica.daprd.wait, 10)
        noticed = await _not_ready_within(replica, 15.0)
        verdict.notes.append(f"{replica.name} noticed: {noticed}")
        verdict.unnoticed += not noticed
        while replica.daprd.poll() is not None:  # noqa: ASYNC110 - the supervisor starts it
            await asyncio.sleep(0.2)

    return inject


def daprd_kills(picks: list[Callable[[ChaosCluster], Replica]]) -> Fault:
    """kill -9 of several sidecars, one after another (each back before the next)."""

    async def inject(cluster: ChaosCluster, verdict: Verdict) -> None:
        for pick in picks:
            await daprd_kill(pick)(cluster, verdict)

    return inject


def overlapping() -> Fault:
    """PostgreSQL restart, Redis restart and a gateway's daprd killed, all at once."""
    first_gateway = daprd_kill(lambda c: c.gateways[0])

    async def inject(cluster: ChaosCluster, verdict: Verdict) -> None:
        await asyncio.gather(
            pg_restart(10)(cluster, verdict),
            redis_restart(3)(cluster, verdict),
            first_gateway(cluster, verdict),
        )

    return inject


def disk_full(full_seconds: float) -> Fault:
    """The volume holding workspaces and artifacts fills up, then space is freed."""

    async def inject(cluster: ChaosCluster, verdict: Verdict) -> None:
        filler = cluster.volume / "filler"
        await asyncio.to_thread(fill, filler)
        await asyncio.sleep(full_seconds)
        filler.unlink()

    return inject


def fill(path: Path) -> None:
    """Write until the filesystem has no space left (unbuffered: every byte that fits lands)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(descriptor, b"\0" * size):
                    pass
    finally:
        os.close(descriptor)


async def _not_ready_within(replica: Replica, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{replica.url}/readyz")).status_code == 503:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    return False


async def scenario_task(cluster: ChaosCluster, name: str) -> str:
    """A repository of its own (a local bare remote) and a task on it."""
    folder = cluster.platform.workdir / f"remote-{sum(map(ord, name))}-{time.monotonic_ns()}"
    remote = await asyncio.to_thread(make_remote, folder)
    return await cluster.platform.new_task(f"file://{remote}", name[:200])


@dataclass
class Pace:
    """How hard and how long a scenario drives the platform."""

    interval: float = 0.5
    before: float = 3.0
    after: float = 3.0


async def scenario(
    cluster: ChaosCluster, name: str, fault: Fault, pace: Pace | None = None
) -> tuple[Verdict, list[str]]:
    """Load, the fault, recovery, drain; the verdict and the evidence of each broken rule."""
    pace = pace or Pace()
    verdict = Verdict(name)
    platform = cluster.platform
    task_id = await scenario_task(cluster, name)
    clients = Clients([g.url for g in cluster.gateways], platform.bearer("developer"))
    load, stop = Load(clients, task_id, "chaos"), asyncio.Event()
    steady = asyncio.create_task(load.steady(pace.interval, stop))
    engine = create_async_engine(platform.database_url)
    try:
        await asyncio.sleep(pace.before)
        started = time.monotonic()
        await fault(cluster, verdict)
        restored = time.monotonic()
        try:
            verdict.recovery_seconds = await cluster.wait_all_ready(RECOVERY_BOUND_SECONDS)
        except TimeoutError as exc:
            verdict.recovered, verdict.recovery_seconds = False, RECOVERY_BOUND_SECONDS
            verdict.notes.append(str(exc)[:1500])
        ready_at = time.monotonic()
        await asyncio.sleep(pace.after)
        stop.set()
        await steady
        reaped_by = ready_at + cluster.lease_seconds + REAPER_SECONDS
        await asyncio.sleep(max(0.0, reaped_by - time.monotonic()))
        accepted = set(load.accepted)
        idle = await stuck_runs(engine, accepted, cluster.slots, IDLE_WINDOW_SECONDS)
        never_ended = await wait_terminal(engine, accepted, DRAIN_TIMEOUT_SECONDS)
        verdict.drain_seconds = time.monotonic() - ready_at
        stuck = idle | never_ended
        verdict.stuck = len(stuck)
        unended = await load.watchers_done(timeout=20.0)
        verdict.unended_watchers = len(unended)
        await judge_runs(engine, load, verdict)
        evidence = await judge_streams(engine, load, verdict)
        evidence += judge_answers(load, verdict, (started, ready_at))
        evidence += [f"stuck {r}" for r in sorted(stuck)]
        evidence += [f"watcher of {w.run_id} never saw the end" for w in unended]
        verdict.notes.append(f"fault lasted {restored - started:.1f}s")
        return verdict, evidence
    finally:
        stop.set()
        if not steady.done():
            steady.cancel()
        load.stop_watching()
        await engine.dispose()
        await clients.aclose()
