"""The run event log: numbered, durable events, then published through the outbox.

A run's events are numbered 1, 2, 3 … by moving `runs.last_seq` on in the same
transaction that inserts them, so numbers are gap-free and never reused. A writer that
holds a lease passes its `AttemptFence`: once the lease is lost (reaped, cancelled),
its appends fail instead of interleaving with the next attempt's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import (
    DateTime,
    Select,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import ContractModel, EventType, RunEventV1
from dursor_contracts.topics import RUN_EVENTS
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_store.outbox import enqueue
from dursor_store.run_rows import AttemptFence
from dursor_store.runs import reserve_seqs
from dursor_store.schema import run_events

EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://dursor.cloud/run-events")


class FencedOut(Exception):
    """The writer no longer holds the run: its attempt was reaped, ended or cancelled."""


@dataclass(frozen=True)
class NewEvent:
    """An event to append: its type and its typed data."""

    type: EventType
    data: ContractModel


def event_id(run_id: UUID, seq: int) -> UUID:
    """Deterministic CloudEvent id of an event, so every consumer can deduplicate."""
    return uuid5(EVENT_ID_NAMESPACE, f"{run_id}:{seq}")


async def append_events(
    work: UnitOfWork,
    run_id: UUID,
    events: Sequence[NewEvent],
    fence: AttemptFence | None = None,
) -> list[RunEventV1]:
    """Number, store and enqueue for publishing `events` in the caller's unit of work."""
    if not events:
        return []
    now = datetime.now(UTC)
    row = (await work.conn.execute(_numbered_insert(run_id, events, fence, now))).one_or_none()
    if row is None:
        raise FencedOut(f"run {run_id} is not held by this attempt")
    first_seq = row.last_seq - len(events) + 1
    appended = [
        RunEventV1(
            run_id=run_id,
            task_id=row.task_id,
            seq=first_seq + i,
            turn=row.turn,
            attempt=row.attempt,
            type=e.type,
            data=e.data.model_dump(mode="json"),
            created_at=now,
        )
        for i, e in enumerate(events)
    ]
    for event in appended:
        await enqueue(work, RUN_EVENTS, event, event_id=event_id(run_id, event.seq))
    return appended


def _numbered_insert(
    run_id: UUID, events: Sequence[NewEvent], fence: AttemptFence | None, now: datetime
) -> Select[Any]:
    """Reserve the seqs and insert the events numbered with them: one statement.

    It returns the reservation (the run's new `last_seq`, task, turn and attempt), not
    the inserted rows: agent-runner may insert into the log but not read it.
    """
    reserved = reserve_seqs(run_id, len(events), fence)
    given = [{"type": e.type.value, "data": e.data.model_dump(mode="json")} for e in events]
    items = (
        func.jsonb_array_elements(bindparam("events", given, type_=JSONB))
        .table_valued("value", with_ordinality="ord")
        .render_derived()
    )
    item = type_coerce(items.c.value, JSONB)
    numbered = select(
        literal(run_id, Uuid()),
        reserved.c.last_seq - len(events) + items.c.ord,
        reserved.c.task_id,
        reserved.c.turn,
        reserved.c.attempt,
        item.op("->>")(literal("type")),
        item.op("->", return_type=JSONB)(literal("data")),
        literal(now, DateTime(timezone=True)),
    ).select_from(reserved.join(items, true()))
    columns = ["run_id", "seq", "task_id", "turn", "attempt", "type", "data", "created_at"]
    inserted = insert(run_events).from_select(columns, numbered).cte("inserted")
    return select(reserved).add_cte(inserted)


async def read_events(
    conn: AsyncConnection, run_id: UUID, after_seq: int, limit: int
) -> list[RunEventV1]:
    """Events of a run with `seq > after_seq`, oldest first."""
    result = await conn.execute(
        select(run_events)
        .where(run_events.c.run_id == run_id, run_events.c.seq > after_seq)
        .order_by(run_events.c.seq)
        .limit(limit)
    )
    return [RunEventV1.model_validate(r._mapping) for r in result]
