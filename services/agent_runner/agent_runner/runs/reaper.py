"""The reaper: runs whose lease expired (worker killed) go back to the queue or fail.

Safe with several replicas: each round locks the expired rows it handles with
`FOR UPDATE SKIP LOCKED`, and every change is a compare-and-set on status and attempt.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from agent_runner.metrics import QueueDepth
from dursor_kit.db.unit_of_work import Transactions
from dursor_store import run_lifecycle
from dursor_store.run_reads import count_queued

log = structlog.get_logger(__name__)

LEASE_EXPIRED = "the worker holding the run stopped renewing its lease"


async def reap_once(transactions: Transactions, batch: int = 50) -> int:
    """Requeue or fail every run whose lease expired; returns how many were handled."""
    async with transactions.begin() as work:
        reaped = await run_lifecycle.reap_expired(work, LEASE_EXPIRED, batch)
    for run, outcome in reaped:
        log.warning(
            "reaped run",
            run_id=str(run.id),
            attempt=run.attempt,
            outcome=outcome.value if outcome else None,
        )
    return len(reaped)


async def reap_forever(
    transactions: Transactions, interval: float, depth: QueueDepth, grace: float
) -> None:
    """Reap on a timer until cancelled; one failed round never stops the loop.

    After a failed round (the database away) nothing is reaped for `grace` seconds (one
    lease): no worker could renew during the outage either, and live ones renew within
    a third of a lease once it is back; only the leases of dead workers stay expired.
    """
    reap_after = 0.0
    while True:
        try:
            if time.monotonic() >= reap_after:
                await reap_once(transactions)
            async with transactions.engine.connect() as conn:
                depth.value = await count_queued(conn)
        except Exception:
            log.exception("reaper round failed")
            reap_after = time.monotonic() + grace
        await asyncio.sleep(interval)
