"""Transactional outbox: messages are rows committed with the change they announce.

`enqueue` runs inside the caller's unit of work and records which app wrote the row
(`source`); `OutboxRelay` publishes committed rows of its own app through the sidecar and
marks them sent. Several relays (replicas of one app) share those rows safely through
`FOR UPDATE SKIP LOCKED`; a failed publish is retried with backoff, so Redis or the
sidecar being down delays messages and never drops them.

While the app's relay runs, a row is written reserved for it (due only `HANDOFF_SECONDS`
later) and handed to it after the commit: the relay publishes it at once, without
selecting it first, and no other replica's round takes it meanwhile. Should the process
die before the publish, the reservation lapses and any relay's round publishes the row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy import Interval, Select, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_contracts.cloudevents import build_cloudevent
from dursor_contracts.events import ContractModel
from dursor_contracts.topics import (
    PR_REQUESTED,
    RUN_CANCEL_REQUESTED,
    RUN_EVENTS,
    RUN_REQUESTED,
    TOPICS_BY_NAME,
    Topic,
    published_by,
)
from dursor_kit.db.clauses import one_of
from dursor_kit.db.rows import TableRow, fetch_all
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.sidecar import BulkEntry, Sidecar, SidecarError
from dursor_kit.telemetry import current_traceparent
from dursor_store.schema import outbox

log = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 10.0
# How long a committed row stays reserved for the relay it was handed to.
HANDOFF_SECONDS = 10.0
SENT_RETENTION = timedelta(hours=6)
# Messages that start or stop work elsewhere: a round publishes them before anything else,
# so a runner hears of a run without waiting for the run's events to go out first.
WORK_REQUESTS = frozenset({RUN_REQUESTED.name, RUN_CANCEL_REQUESTED.name, PR_REQUESTED.name})


class OutboxRow(TableRow):
    """A message waiting in the outbox, with its delivery bookkeeping."""

    id: int
    event_id: UUID
    source: str
    pubsub: str
    topic: str
    payload: dict[str, Any]
    traceparent: str | None
    attempts: int


async def enqueue(
    work: UnitOfWork,
    topic: Topic,
    data: ContractModel,
    *,
    event_id: UUID | None = None,
    delay: timedelta | None = None,
) -> UUID:
    """Add a message to the outbox in the caller's unit of work; returns its event id.

    The unit of work writes its messages together, in the order they were enqueued,
    right before it commits (one insert instead of one per message).
    """
    source = work.outbox_source()
    if topic not in published_by(source):
        # Dapr would refuse it forever: a bug, not a message to retry.
        raise ValueError(f"{source} may not publish {topic.name}")
    event_id = event_id or uuid4()
    values: dict[str, object] = {
        "event_id": event_id,
        "source": source,
        "pubsub": topic.pubsub.value,
        "topic": topic.name,
        "payload": data.model_dump(mode="json"),
        "traceparent": current_traceparent(),
    }
    work.defer(_write_enqueued, _Pending(values, delay))
    return event_id


@dataclass(frozen=True)
class _Pending:
    """A message enqueued in a unit of work, written with the others right before its commit."""

    values: dict[str, object]
    delay: timedelta | None


async def _write_enqueued(work: UnitOfWork, pending: list[_Pending]) -> None:
    """A unit of work's messages in one insert; reserved for its relay if that takes them."""
    hands_off = work.hands_off
    reserved = timedelta(seconds=HANDOFF_SECONDS) if hands_off else timedelta(0)
    rows = [m.values | {"due_in": m.delay or reserved} for m in pending]
    # One statement for any number of rows (SQLAlchemy's "insertmanyvalues"), compiled
    # once and cached: a multi-row `values([...])` would be compiled on every call.
    statement = (
        insert(outbox)
        .values(available_at=func.now() + bindparam("due_in", type_=Interval))
        .returning(outbox.c.id, outbox.c.event_id)
    )
    written = await work.conn.execute(statement, rows)
    ids = {event_id: row_id for row_id, event_id in written}
    for message in pending:
        if hands_off and message.delay is None:
            row_id = ids[message.values["event_id"]]
            work.enqueued(OutboxRow.model_validate(message.values | {"id": row_id, "attempts": 0}))
        else:
            work.enqueued()


def _events_by_run(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """The `run-events` rows of each run, in outbox (= sequence) order."""
    runs: dict[str, list[OutboxRow]] = {}
    for row in rows:
        if row.topic == RUN_EVENTS.name:
            runs.setdefault(str(row.payload.get("run_id")), []).append(row)
    return list(runs.values())


def _release(waiters: Sequence[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try of a message that failed `attempts` times."""
    return float(min(MAX_BACKOFF_SECONDS, 0.25 * 2 ** min(attempts, 10)))


class OutboxRelay:
    """Publishes its app's committed outbox rows and marks them sent.

    Each round publishes the work requests first (in outbox order), then, concurrently,
    every run's `run-events` one by one in sequence order and the other messages in
    outbox order (so one run's `run-lifecycle` messages keep their order as well).

    A relay takes only the rows its own app wrote (`source`): its sidecar publishes as
    that app, so every CloudEvent's `source` names the writer, and Dapr's publishing
    scopes (each app only its topics) always agree with what the relay sends.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sidecar: Sidecar,
        source: str,
        batch_size: int = 200,
        poll_interval: float = 0.5,
    ) -> None:
        self._engine = engine
        self._sidecar = sidecar
        self._source = source
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._running = False
        self._due_now = False  # a commit wrote rows that were not handed over
        self._handed: list[OutboxRow] = []
        self._handed_out: list[asyncio.Future[None]] = []

    @property
    def source(self) -> str:
        """The app id whose rows this relay publishes."""
        return self._source

    @property
    def takes_handoffs(self) -> bool:
        """True while `run` runs: rows written now are reserved for this relay."""
        return self._running

    def notify(self, handed: Sequence[object] = ()) -> Awaitable[None] | None:
        """Publish soon: a transaction that enqueued messages (`handed` to this relay) committed.

        The future returned is done once the handed rows were published (or failed and
        were postponed for the rounds to retry).
        """
        self._wake.set()
        if not handed:
            self._due_now = True
            return None
        self._handed += [row for row in handed if isinstance(row, OutboxRow)]
        done = asyncio.get_running_loop().create_future()
        self._handed_out.append(done)
        return done

    async def run(self) -> None:
        """Relay until cancelled: handed rows at once, due rows on a notify or a timer."""
        self._running = True
        try:
            rounds = 0
            while True:
                sent = await self._round_safely()
                rounds += 1
                if rounds % 600 == 0:
                    await self._purge_sent()
                if sent < self._batch_size:
                    await self._serve_handoffs()
        finally:
            self._running = False
            self._release_waiters()

    async def _serve_handoffs(self) -> None:
        """Publish what commits hand over until the poll interval ends or due rows wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._poll_interval
        while not self._due_now and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)
            self._wake.clear()
            if self._handed:
                await self._publish_handed()
        self._due_now = False

    async def _publish_handed(self) -> None:
        """Publish the rows handed over (no query first), then mark them sent."""
        rows, self._handed = self._handed, []
        waiters, self._handed_out = self._handed_out, []
        try:
            failed = await self._publish_round(rows)
            _release(waiters)  # out (or postponed below): the committers need not wait more
            async with self._engine.begin() as conn:
                await self._record_round(conn, rows, failed)
        except Exception:  # their reservation lapses and a round publishes them
            log.exception("publishing handed rows failed")
        finally:
            _release(waiters)

    def _release_waiters(self) -> None:
        waiters, self._handed_out = self._handed_out, []
        _release(waiters)

    async def _round_safely(self) -> int:
        try:
            return await self.relay_once()
        except Exception:  # the relay must outlive any single failure (DB restarts)
            log.exception("outbox round failed")
            await asyncio.sleep(self._poll_interval)
            return 0

    async def relay_once(self) -> int:
        """Publish one batch of due messages; returns how many were sent."""
        async with self._engine.begin() as conn:
            rows = await fetch_all(conn, self._due_rows(), OutboxRow)
            failed = await self._publish_round(rows)
            return await self._record_round(conn, rows, failed)

    async def _record_round(
        self, conn: AsyncConnection, rows: Sequence[OutboxRow], failed: set[int]
    ) -> int:
        """Mark the published rows sent, postpone the failed ones; how many were sent."""
        sent_ids = [r.id for r in rows if r.id not in failed]
        if sent_ids:
            await conn.execute(
                update(outbox).where(one_of(outbox.c.id, sent_ids)).values(sent_at=func.now())
            )
        for row in rows:
            if row.id in failed:
                await self._postpone(conn, row)
        return len(sent_ids)

    def _due_rows(self) -> Select[Any]:
        return (
            select(outbox)
            .where(
                outbox.c.sent_at.is_(None),
                outbox.c.source == self._source,
                outbox.c.available_at <= func.now(),
            )
            .order_by(outbox.c.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )

    async def _publish_round(self, rows: Sequence[OutboxRow]) -> set[int]:
        """Work requests first; then each run's events in order beside the rest; failed ids."""
        requests = [r for r in rows if r.topic in WORK_REQUESTS]
        failed = await self._publish_in_order(requests)
        chains = [self._publish_one_by_one(events) for events in _events_by_run(rows)]
        others = [r for r in rows if r.topic not in WORK_REQUESTS and r.topic != RUN_EVENTS.name]
        chains.append(self._publish_in_order(others))
        for chain_failed in await asyncio.gather(*chains):
            failed |= chain_failed
        return failed

    async def _publish_in_order(self, rows: Sequence[OutboxRow]) -> set[int]:
        """Consecutive rows of one topic in one request, the requests one after another."""
        failed: set[int] = set()
        for (pubsub, topic), group in groupby(rows, key=lambda r: (r.pubsub, r.topic)):
            failed |= await self._publish(pubsub, topic, list(group))
        return failed

    async def _publish_one_by_one(self, rows: Sequence[OutboxRow]) -> set[int]:
        """One run's events each in its own request, in order; after a failure none of the rest.

        daprd publishes a bulk request's entries concurrently, so a bulk of one run's events
        reaches the stream out of order and watchers would fill gaps from Postgres. What
        follows a failed event waits with it, so the next round keeps the order too.
        """
        for index, row in enumerate(rows):
            if await self._publish(row.pubsub, row.topic, [row]):
                return {r.id for r in rows[index:]}
        return set()

    async def _publish(self, pubsub: str, topic: str, rows: Sequence[OutboxRow]) -> set[int]:
        """Publish `rows` of one topic; the ids of those that failed."""
        contract = TOPICS_BY_NAME[topic]
        entries = [BulkEntry(str(r.id), self._cloudevent(contract, r)) for r in rows]
        try:
            if len(entries) == 1:
                await self._sidecar.publish(
                    pubsub, topic, entries[0].cloudevent, rows[0].traceparent
                )
                return set()
            return {
                int(entry_id)
                for entry_id in await self._sidecar.publish_bulk(pubsub, topic, entries)
            }
        except SidecarError as exc:
            log.warning("outbox publish failed", topic=topic, count=len(rows), error=str(exc))
            return {r.id for r in rows}

    def _cloudevent(self, topic: Topic, row: OutboxRow) -> dict[str, object]:
        payload = topic.model.model_validate(row.payload)
        event = build_cloudevent(topic, row.event_id, row.source, payload)
        if row.traceparent:
            # Dapr keeps a CloudEvent's own `traceid`, so the subscriber continues the
            # trace of the request that enqueued the message, not the relay's.
            event["traceid"] = event["traceparent"] = row.traceparent
        return event

    async def _postpone(self, conn: AsyncConnection, row: OutboxRow) -> None:
        delay = timedelta(seconds=backoff_seconds(row.attempts))
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(
                attempts=outbox.c.attempts + 1,
                available_at=func.now() + delay,
                last_error="publish failed",
            )
        )

    async def _purge_sent(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                outbox.delete().where(outbox.c.sent_at < func.now() - SENT_RETENTION)
            )
