"""The unit of work on real PostgreSQL: committed once, rolled back on failure, relay woken after.

A route takes it as `Tx`; what the route changed is committed when it answers and rolled
back when it refuses, and the app's outbox relay is woken only by a commit that enqueued
something.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.events import RunCancelRequestedV1
from dursor_contracts.topics import RUN_CANCEL_REQUESTED
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_kit.errors import Conflict
from dursor_kit.web.problems import install_problem_handlers
from dursor_kit.web.transactions import Tx
from dursor_store.outbox import enqueue
from dursor_store.schema import outbox


class CountingRelay:
    """The app's relay as a unit of work sees it, counting how often it was woken."""

    source = "run-api"
    takes_handoffs = False  # a relay that does not run: rows are due at once

    def __init__(self) -> None:
        self.wakes = 0

    def notify(self, handed: Sequence[object] = ()) -> None:
        """Count the wake-up."""
        self.wakes += 1


async def enqueue_one(work: UnitOfWork) -> UUID:
    """One outbox message in `work`; its event id."""
    message = RunCancelRequestedV1(run_id=uuid4(), reason="test", requested_by="dev")
    return await enqueue(work, RUN_CANCEL_REQUESTED, message)


async def outbox_ids(engine: AsyncEngine) -> set[UUID]:
    """Event ids of every committed outbox row, read on a connection of its own."""
    async with engine.connect() as conn:
        return set((await conn.execute(select(outbox.c.event_id))).scalars())


async def test_a_commit_that_enqueued_wakes_the_relay_after_it(engine: AsyncEngine) -> None:
    relay = CountingRelay()
    async with Transactions(engine, relay).begin() as work:
        event_id = await enqueue_one(work)
        visible_before_commit = await outbox_ids(engine)
        wakes_before_commit = relay.wakes
    assert visible_before_commit == set()
    assert wakes_before_commit == 0
    assert await outbox_ids(engine) == {event_id}
    assert relay.wakes == 1


async def enqueue_then_refuse(transactions: Transactions) -> None:
    """A unit of work that enqueues, then refuses half-way."""
    async with transactions.begin() as work:
        await enqueue_one(work)
        raise Conflict("refused half-way")


async def test_a_failure_or_a_discard_rolls_back_and_wakes_nobody(engine: AsyncEngine) -> None:
    relay = CountingRelay()
    transactions = Transactions(engine, relay)
    with pytest.raises(Conflict):
        await enqueue_then_refuse(transactions)
    async with transactions.begin() as work:
        await enqueue_one(work)
        work.discard()
    assert await outbox_ids(engine) == set()
    assert relay.wakes == 0


async def test_a_commit_that_enqueued_nothing_wakes_nobody(engine: AsyncEngine) -> None:
    relay = CountingRelay()
    async with Transactions(engine, relay).begin() as work:
        await work.conn.execute(select(func.now()))
    assert relay.wakes == 0


def app_with_routes(engine: AsyncEngine, relay: CountingRelay) -> FastAPI:
    """Two routes taking the request's unit of work: one keeps its change, one refuses."""
    app = FastAPI()
    install_problem_handlers(app)
    app.state.transactions = Transactions(engine, relay)

    @app.post("/keep")
    async def keep(tx: Tx) -> dict[str, str]:
        return {"event_id": str(await enqueue_one(tx))}

    @app.post("/refuse")
    async def refuse(tx: Tx) -> None:
        await enqueue_one(tx)
        raise Conflict("the state refuses it")

    return app


async def test_a_route_keeps_its_change_and_rolls_back_when_it_refuses(
    engine: AsyncEngine,
) -> None:
    relay = CountingRelay()
    transport = httpx.ASGITransport(app=app_with_routes(engine, relay))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/refuse")
        after_refusal = (await outbox_ids(engine), relay.wakes)
        kept = await client.post("/keep")
        after_keep = (await outbox_ids(engine), relay.wakes)

    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/conflict")
    assert after_refusal == (set(), 0)
    assert kept.status_code == 200
    assert after_keep == ({UUID(kept.json()["event_id"])}, 1)
