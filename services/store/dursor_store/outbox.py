"""Transactional outbox: messages are rows committed with the change they announce.

`enqueue` runs inside the caller's unit of work and records which app wrote the row
(`source`); `OutboxRelay` publishes committed rows of its own app through the sidecar and
marks them sent. Several relays (replicas of one app) share those rows safely through
`FOR UPDATE SKIP LOCKED`; a failed publish is retried with backoff, so Redis or the
sidecar being down delays messages and never drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from itertools import groupby
from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy import Select, func, insert, select, update
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
from dursor_kit.db.rows import TableRow, fetch_all
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.sidecar import BulkEntry, Sidecar, SidecarError
from dursor_kit.telemetry import current_traceparent
from dursor_store.schema import outbox

log = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 10.0
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
    """Add a message to the outbox in the caller's unit of work; returns its event id."""
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
    if delay is not None:
        values["available_at"] = func.now() + delay
    await work.conn.execute(insert(outbox).values(**values))
    work.enqueued()
    return event_id


def _events_by_run(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """The `run-events` rows of each run, in outbox (= sequence) order."""
    runs: dict[str, list[OutboxRow]] = {}
    for row in rows:
        if row.topic == RUN_EVENTS.name:
            runs.setdefault(str(row.payload.get("run_id")), []).append(row)
    return list(runs.values())


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

    @property
    def source(self) -> str:
        """The app id whose rows this relay publishes."""
        return self._source

    def notify(self) -> None:
        """Publish soon: a transaction that enqueued messages has committed."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled, sleeping between empty rounds unless notified."""
        rounds = 0
        while True:
            sent = await self._round_safely()
            rounds += 1
            if rounds % 600 == 0:
                await self._purge_sent()
            if sent < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                self._wake.clear()

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
            sent_ids = [r.id for r in rows if r.id not in failed]
            if sent_ids:
                await conn.execute(
                    update(outbox).where(outbox.c.id.in_(sent_ids)).values(sent_at=func.now())
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
