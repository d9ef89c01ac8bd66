"""The reaper: runs whose lease expired (worker killed) go back to the queue or fail.

Safe with several replicas: each round locks the expired rows it handles with
`FOR UPDATE SKIP LOCKED`, and every change is a compare-and-set on status and attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.leases import requeue_or_fail
from agent_runner.metrics import QueueDepth
from dursor_store.schema import runs

log = structlog.get_logger(__name__)

LEASE_EXPIRED = "the worker holding the run stopped renewing its lease"


async def reap_once(engine: AsyncEngine, batch: int = 50) -> int:
    """Requeue or fail every run whose lease expired; returns how many were handled."""
    async with engine.begin() as conn:
        expired = (
            await conn.execute(
                select(runs.c.id, runs.c.turn, runs.c.attempt, runs.c.max_attempts)
                .where(runs.c.status == "running", runs.c.lease_expires_at < func.now())
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for run in expired:
            outcome = await requeue_or_fail(
                conn, run.id, run.turn, run.attempt, run.max_attempts, LEASE_EXPIRED
            )
            log.warning(
                "reaped run",
                run_id=str(run.id),
                attempt=run.attempt,
                outcome=outcome.value if outcome else None,
            )
    return len(expired)


async def count_queued(engine: AsyncEngine) -> int:
    """Runs waiting for a worker (the queue depth the scaling rule and alerts watch)."""
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(runs).where(runs.c.status == "queued")
        )
    return int(count or 0)


async def reap_forever(
    engine: AsyncEngine, interval: float, on_reaped: Callable[[], None], depth: QueueDepth
) -> None:
    """Reap on a timer until cancelled; one failed round never stops the loop."""
    while True:
        try:
            if await reap_once(engine):
                on_reaped()
            depth.value = await count_queued(engine)
        except Exception:
            log.exception("reaper round failed")
        await asyncio.sleep(interval)
