"""SQL that writes the runs table: the only module that writes a run's status, lease and attempt.

Every write is a compare-and-set on the state it leaves (status, turn, attempt, lease
owner), so two writers can never both win; the database's triggers refuse any illegal
transition that slipped through. What a transition announces (events, messages) is
`dursor_store.run_lifecycle`'s, which calls these. The rows it reads to pick a run to
change (the oldest queued, expired leases, a running attempt) are locked here too; other
reads are in `dursor_store.run_reads`, the rows' shapes in `dursor_store.run_rows`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CTE

from dursor_contracts.events import RunStatus
from dursor_kit.db.rows import fetch_all, fetch_one, fetch_optional
from dursor_store.run_rows import (
    AttemptFence,
    HeldRun,
    NewRun,
    Renewal,
    RunRef,
    RunRow,
    TurnValues,
)
from dursor_store.schema import runs

TERMINAL = tuple(status for status in RunStatus if status.is_terminal)


def _held(run_id: UUID, fence: AttemptFence) -> list[ColumnElement[bool]]:
    return [
        runs.c.id == run_id,
        runs.c.status == RunStatus.RUNNING,
        runs.c.turn == fence.turn,
        runs.c.attempt == fence.attempt,
        runs.c.lease_owner == fence.lease_owner,
    ]


async def insert_queued(conn: AsyncConnection, new: NewRun) -> RunRow:
    """A new run, queued for its first turn."""
    statement = insert(runs).values(**new, status=RunStatus.QUEUED).returning(runs)
    return await fetch_one(conn, statement, RunRow)


async def cancel_queued(conn: AsyncConnection, run_id: UUID, reason: str) -> RunRow | None:
    """queued -> cancelled, if it still is queued."""
    statement = (
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == RunStatus.QUEUED)
        .values(
            status=RunStatus.CANCELLED,
            finished_at=func.now(),
            error=reason,
            cancel_requested_at=func.now(),
            cancel_reason=reason,
        )
        .returning(runs)
    )
    return await fetch_optional(conn, statement, RunRow)


async def request_cancel(conn: AsyncConnection, run_id: UUID, reason: str) -> RunRow | None:
    """Mark a running run for cancellation (first request wins); its worker stops it."""
    statement = (
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == RunStatus.RUNNING)
        .values(
            cancel_requested_at=func.coalesce(runs.c.cancel_requested_at, func.now()),
            cancel_reason=func.coalesce(runs.c.cancel_reason, reason),
        )
        .returning(runs)
    )
    return await fetch_optional(conn, statement, RunRow)


async def queue_next_turn(conn: AsyncConnection, run_id: UUID) -> RunRow | None:
    """terminal -> queued for the next turn, attempt 1."""
    statement = (
        update(runs)
        .where(runs.c.id == run_id, runs.c.status.in_(TERMINAL))
        .values(
            status=RunStatus.QUEUED,
            turn=runs.c.turn + 1,
            attempt=1,
            queued_at=func.now(),
            finished_at=None,
            error=None,
            summary=None,
            cancel_requested_at=None,
            cancel_reason=None,
        )
        .returning(runs)
    )
    return await fetch_optional(conn, statement, RunRow)


async def oldest_queued(conn: AsyncConnection) -> RunRef | None:
    """The oldest queued run nobody is claiming right now (locked until the commit)."""
    statement = (
        select(runs.c.id, runs.c.turn, runs.c.attempt, runs.c.max_attempts)
        .where(runs.c.status == RunStatus.QUEUED, runs.c.cancel_requested_at.is_(None))
        .order_by(runs.c.queued_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return await fetch_optional(conn, statement, RunRef)


def take_lease(run_id: UUID, fence: AttemptFence, lease: timedelta) -> CTE:
    """queued -> running for this turn and attempt, held by `fence.lease_owner`.

    A CTE returning the claimed row (none if someone else has it), so the claim reads
    what it needs with the same statement: one round trip instead of two.
    """
    return (
        update(runs)
        .where(
            runs.c.id == run_id,
            runs.c.status == RunStatus.QUEUED,
            runs.c.turn == fence.turn,
            runs.c.attempt == fence.attempt,
            runs.c.cancel_requested_at.is_(None),
        )
        .values(
            status=RunStatus.RUNNING,
            lease_owner=fence.lease_owner,
            lease_expires_at=func.now() + lease,
            started_at=func.coalesce(runs.c.started_at, func.now()),
        )
        .returning(*runs.c)
        .cte("claimed")
    )


async def renew_lease(
    conn: AsyncConnection, run_id: UUID, fence: AttemptFence, lease: timedelta
) -> Renewal | None:
    """Extend a held lease; None when it is no longer held (reaped or ended)."""
    statement = (
        update(runs)
        .where(*_held(run_id, fence))
        .values(lease_expires_at=func.now() + lease)
        .returning(runs.c.cancel_requested_at, runs.c.cancel_reason)
    )
    return await fetch_optional(conn, statement, Renewal)


async def end_turn(
    conn: AsyncConnection,
    run_id: UUID,
    fence: AttemptFence,
    status: RunStatus,
    values: TurnValues,
) -> bool:
    """running -> a terminal status; False if the lease was lost meanwhile."""
    done = await conn.scalar(
        update(runs)
        .where(*_held(run_id, fence))
        .values(
            status=status,
            finished_at=func.now(),
            lease_owner=None,
            lease_expires_at=None,
            **values,
        )
        .returning(runs.c.id)
    )
    return done is not None


def _running(
    run_id: UUID, turn: int, attempt: int, lease_owner: str | None
) -> list[ColumnElement[bool]]:
    conditions = [
        runs.c.id == run_id,
        runs.c.status == RunStatus.RUNNING,
        runs.c.turn == turn,
        runs.c.attempt == attempt,
    ]
    if lease_owner is not None:
        conditions.append(runs.c.lease_owner == lease_owner)
    return conditions


async def lock_running(
    conn: AsyncConnection, run_id: UUID, turn: int, attempt: int, lease_owner: str | None
) -> HeldRun | None:
    """The running attempt (held by `lease_owner`, if given), locked until the commit."""
    statement = (
        select(runs.c.task_id, runs.c.cancel_requested_at, runs.c.cancel_reason)
        .where(*_running(run_id, turn, attempt, lease_owner))
        .with_for_update()
    )
    return await fetch_optional(conn, statement, HeldRun)


async def leave_running(
    conn: AsyncConnection,
    run_id: UUID,
    turn: int,
    attempt: int,
    lease_owner: str | None,
    outcome: RunStatus,
    error: str | None,
) -> None:
    """running -> queued as the next attempt, or -> cancelled/failed with `error`."""
    values: dict[str, Any] = {"status": outcome, "lease_owner": None, "lease_expires_at": None}
    if outcome is RunStatus.QUEUED:
        values |= {"attempt": attempt + 1, "queued_at": func.now()}
    else:
        values |= {"error": error, "finished_at": func.now()}
    await conn.execute(
        update(runs).where(*_running(run_id, turn, attempt, lease_owner)).values(**values)
    )


async def expired_leases(conn: AsyncConnection, batch: int) -> list[RunRef]:
    """Running runs whose lease expired (worker killed), locked until the commit."""
    statement = (
        select(runs.c.id, runs.c.turn, runs.c.attempt, runs.c.max_attempts)
        .where(runs.c.status == RunStatus.RUNNING, runs.c.lease_expires_at < func.now())
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return await fetch_all(conn, statement, RunRef)


def reserve_seqs(run_id: UUID, count: int, fence: AttemptFence | None) -> CTE:
    """`last_seq` moved on by `count`; no row when `fence` no longer holds the run.

    A CTE returning the new `last_seq`, `task_id`, `turn` and `attempt`, so the event
    log numbers and inserts its events in the same statement.
    """
    claim = (
        update(runs)
        .where(runs.c.id == run_id)
        .values(last_seq=runs.c.last_seq + count)
        .returning(runs.c.last_seq, runs.c.task_id, runs.c.turn, runs.c.attempt)
    )
    if fence is not None:
        claim = claim.where(*_held(run_id, fence)[1:])
    return claim.cte("reserved")


async def pin_base_commit(conn: AsyncConnection, run_id: UUID, commit: str) -> str:
    """Pin `commit` on every run of `run_id`'s submission that has none; the run's own.

    The runs of one submission share their task and `created_at` (one transaction made
    them). All of them are locked first, in id order, so two claims of one submission
    wait for each other instead of deadlocking; the update that follows sees the
    winner's commit (a new statement, a new snapshot) and leaves it.
    """
    made = (
        await conn.execute(select(runs.c.task_id, runs.c.created_at).where(runs.c.id == run_id))
    ).one()
    same_submission = [runs.c.task_id == made.task_id, runs.c.created_at == made.created_at]
    await conn.execute(
        select(runs.c.id).where(*same_submission).order_by(runs.c.id).with_for_update()
    )
    await conn.execute(
        update(runs)
        .where(*same_submission, runs.c.base_commit.is_(None))
        .values(base_commit=commit)
    )
    pinned = await conn.scalar(select(runs.c.base_commit).where(runs.c.id == run_id))
    assert pinned is not None, "the run itself was pinned, now or before"
    return str(pinned)
