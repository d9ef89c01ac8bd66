"""The dispatcher's pull loop wakes at once when an offer is refused, not on its timer.

A `run-requested` that finds no free slot (the pull loop itself holds the slot's
reservation while it looks for queued runs) is acknowledged and the run stays queued;
the pull loop must look again right after, or the run waits for the pull interval.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast
from uuid import uuid4

from agent_runner.runs.attempt import AttemptContext
from agent_runner.runs.dispatcher import Dispatcher
from dursor_contracts.events import RunRequestedV1
from dursor_store.run_lifecycle import ClaimedRun


class QueueLooks:
    """Stands in for the leases: each `claim_next` is noted; the first waits to be let go."""

    def __init__(self) -> None:
        self.looks = 0
        self.first_look_started = asyncio.Event()
        self.let_first_look_end = asyncio.Event()
        self.second_look = asyncio.Event()
        self.offered_claims = 0

    async def claim_next(self) -> ClaimedRun | None:
        self.looks += 1
        if self.looks == 1:
            self.first_look_started.set()
            await self.let_first_look_end.wait()  # found nothing: the run was not committed yet
        else:
            self.second_look.set()
        return None

    async def claim(self, run_id: object, turn: int, attempt: int) -> ClaimedRun | None:
        self.offered_claims += 1
        return None


async def no_credential(run: ClaimedRun) -> None:
    return None


def one_slot_hourly_dispatcher(leases: QueueLooks) -> Dispatcher:
    """One slot, and a pull interval of an hour: any quick second look is a wake-up."""
    ctx = cast(AttemptContext, SimpleNamespace(leases=leases))
    return Dispatcher(ctx, max_concurrency=1, pull_interval=3600, resolve_credential=no_credential)


async def test_a_refused_offer_makes_the_pull_loop_look_again_at_once() -> None:
    leases = QueueLooks()
    dispatcher = one_slot_hourly_dispatcher(leases)
    pulling = asyncio.create_task(dispatcher.pull_forever())
    try:
        await asyncio.wait_for(leases.first_look_started.wait(), 10)
        request = RunRequestedV1(run_id=uuid4(), task_id=uuid4(), turn=1, attempt=1)
        await dispatcher.offer(request)  # the only slot is reserved by the pull loop's look
        assert leases.offered_claims == 0
        leases.let_first_look_end.set()
        # An hour's pull interval: only the refused offer's wake-up brings the second look.
        await asyncio.wait_for(leases.second_look.wait(), 10)
    finally:
        pulling.cancel()
    assert leases.looks >= 2


async def test_without_a_refusal_the_pull_loop_waits_for_its_timer() -> None:
    leases = QueueLooks()
    leases.let_first_look_end.set()
    dispatcher = one_slot_hourly_dispatcher(leases)
    pulling = asyncio.create_task(dispatcher.pull_forever())
    try:
        await asyncio.wait_for(leases.first_look_started.wait(), 10)
        await asyncio.sleep(0.5)
    finally:
        pulling.cancel()
    assert leases.looks == 1  # what the first test's second look owes to the refused offer
