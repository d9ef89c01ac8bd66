"""agent-runner through a PostgreSQL outage: attempts wait for it, the reaper waits a lease.

Real PostgreSQL behind a loopback proxy that the test stops (connections refused, open
ones cut) and starts again: an attempt's event write made during the outage lands
once it is back, exactly once; leases that expired while nobody could renew them are
not reaped until one lease after the database answers again, and then only if they
are still expired (the worker died), which they are reaped for.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.metrics import QueueDepth
from agent_runner.runs.event_batcher import EventBatcher
from agent_runner.runs.reaper import reap_forever
from dursor_kit.db.engine import create_engine
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_store import run_lifecycle
from dursor_store.run_lifecycle import ClaimedRun
from dursor_store.schema import run_events, runs
from tests.support.flaky_proxy import FlakyProxy

WORKER = "worker-outage-1"


def password_of(url: URL) -> str | None:
    """The URL's password, or the one libpq's password file holds for its server and user."""
    if url.password is not None:
        return str(url.password)
    passfile = Path(os.environ.get("PGPASSFILE", Path.home() / ".pgpass"))
    if not passfile.exists():
        return None
    for line in passfile.read_text().splitlines():
        host, port, _, user, password = line.split(":", 4)
        if host in ("*", url.host) and port in ("*", str(url.port)) and user in ("*", url.username):
            return password
    return None


@pytest.fixture
async def proxied(engine: AsyncEngine) -> AsyncIterator[tuple[FlakyProxy, Transactions]]:
    """Units of work on the test database through a proxy the test can take down."""
    target = engine.url
    proxy = FlakyProxy(target_port=target.port or 5432)
    await proxy.start()
    via_proxy = target.set(port=proxy.port, password=password_of(target))
    through = create_engine(via_proxy.render_as_string(hide_password=False))
    yield proxy, Transactions(through, PolledOutbox("agent-runner"))
    await proxy.stop()
    await through.dispose()


async def queued_run(engine: AsyncEngine) -> UUID:
    """A repository, a task and a queued run on it."""
    repo, task, run = uuid4(), uuid4(), uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO repos (id, url, default_branch, created_by) "
                "VALUES (:id, 'file:///o', 'main', 't')"
            ),
            {"id": repo},
        )
        await conn.execute(
            text(
                "INSERT INTO tasks (id, repo_id, title, base_branch, created_by) "
                "VALUES (:id, :repo, 'o', 'main', 't')"
            ),
            {"id": task, "repo": repo},
        )
        await conn.execute(
            text(
                "INSERT INTO runs (id, task_id, executor_type, options, instruction, status, "
                "max_attempts, branch, created_by) VALUES (:id, :task, 'command', "
                "'{\"template\": \"x\"}', 'x', 'queued', 3, 'b', 't')"
            ),
            {"id": run, "task": task},
        )
    return run


async def claim(transactions: Transactions, run_id: UUID, lease: float) -> ClaimedRun:
    """Take the run's first attempt for WORKER with a lease of `lease` seconds."""
    async with transactions.begin() as work:
        claimed = await run_lifecycle.claim(work, run_id, 1, 1, WORKER, timedelta(seconds=lease))
    assert claimed is not None
    return claimed


async def status_and_attempt(engine: AsyncEngine, run_id: UUID) -> tuple[str, int]:
    """What the run's row says now."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(runs.c.status, runs.c.attempt).where(runs.c.id == run_id))
        ).one()
    return row.status, row.attempt


async def down(proxy: FlakyProxy) -> None:
    """The database goes away: new connections refused, open ones cut."""
    await proxy.stop()


async def test_an_event_written_during_the_outage_lands_once_when_it_is_back(
    engine: AsyncEngine, proxied: tuple[FlakyProxy, Transactions]
) -> None:
    proxy, transactions = proxied
    run_id = await queued_run(engine)
    run = await claim(transactions, run_id, lease=60)
    batcher = EventBatcher(
        transactions, run_id, run.fence(WORKER), 1 << 20, 0.05, head=run.last_seq
    )

    await down(proxy)
    write = asyncio.create_task(batcher.progress("written during the outage"))
    await asyncio.sleep(1.5)
    waited = not write.done()
    await proxy.start()
    await asyncio.wait_for(write, 20)

    async with engine.connect() as conn:
        types = (
            await conn.execute(
                select(run_events.c.type, run_events.c.data)
                .where(run_events.c.run_id == run_id)
                .order_by(run_events.c.seq)
            )
        ).all()
    assert waited
    progress = [data["message"] for kind, data in types if kind == "progress"]
    assert progress == ["written during the outage"]


async def test_the_reaper_waits_one_lease_after_the_outage_then_reaps_dead_workers(
    engine: AsyncEngine, proxied: tuple[FlakyProxy, Transactions]
) -> None:
    proxy, transactions = proxied
    run_id = await queued_run(engine)
    await claim(transactions, run_id, lease=0.5)

    await down(proxy)
    reaper = asyncio.create_task(reap_forever(transactions, 0.1, QueueDepth(), grace=3.0))
    try:
        await asyncio.sleep(1.5)  # the lease expires while the reaper cannot reach the database
        await proxy.start()
        await asyncio.sleep(1.5)
        during_grace = await status_and_attempt(engine, run_id)
        await asyncio.sleep(4.0)
        after_grace = await status_and_attempt(engine, run_id)
    finally:
        reaper.cancel()

    assert during_grace == ("running", 1)
    assert after_grace == ("queued", 2)
