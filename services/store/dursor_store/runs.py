"""SQL of the runs table: the only module that writes a run's status, lease and attempt.

Every write is a compare-and-set on the state it leaves (status, turn, attempt, lease
owner), so two writers can never both win; the database's triggers refuse any illegal
transition that slipped through. What a transition announces (events, messages) is
`dursor_store.run_lifecycle`'s, which calls these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict
from uuid import UUID

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from dursor_contracts.events import RunStatus
from dursor_contracts.executors import ExecutorSpec, executor_spec
from dursor_kit.db.rows import TableRow, fetch_all, fetch_one, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import run_attempts, runs

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
TERMINAL = tuple(status for status in RunStatus if status.is_terminal)
# Advisory-lock namespaces (first key of pg_advisory_xact_lock(int, int)).
OWNER_LOCK, TASK_LOCK = 7301, 7302


class RunRow(TableRow):
    """A run as stored."""

    id: UUID
    task_id: UUID
    executor_type: str
    model: str | None
    model_profile_id: UUID | None
    options: dict[str, Any]
    instruction: str
    status: RunStatus
    turn: int
    attempt: int
    max_attempts: int
    branch: str
    session_id: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    cancel_requested_at: datetime | None
    cancel_reason: str | None
    created_by: str
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: str | None
    files_changed: list[dict[str, Any]]
    usage: dict[str, Any]
    error: str | None
    patch_uri: str | None
    bundle_uri: str | None
    commit_sha: str | None
    last_seq: int

    @property
    def executor(self) -> ExecutorSpec:
        """What the run executes, as the typed contract."""
        return executor_spec(self.executor_type, self.model, self.model_profile_id, self.options)


class RunRef(TableRow):
    """Which turn and attempt of which run (what a claim or the reaper works on)."""

    id: UUID
    turn: int
    attempt: int
    max_attempts: int


class HeldRun(TableRow):
    """A running attempt locked for ending it: its task and any cancel request."""

    task_id: UUID
    cancel_requested_at: datetime | None
    cancel_reason: str | None


class Renewal(TableRow):
    """The answer of a heartbeat: still held, and whether someone asked to cancel."""

    cancel_requested_at: datetime | None
    cancel_reason: str | None


class SeqRange(TableRow):
    """Sequence numbers reserved for new events, with the run's turn and attempt."""

    last_seq: int
    task_id: UUID
    turn: int
    attempt: int


@dataclass(frozen=True)
class AttemptFence:
    """Writes succeed only while this attempt of this turn holds the lease."""

    turn: int
    attempt: int
    lease_owner: str


class NewRun(TypedDict):
    """The columns of a run a caller chooses; the rest are the table's defaults."""

    id: UUID
    task_id: UUID
    executor_type: str
    model: str | None
    model_profile_id: UUID | None
    options: dict[str, Any]
    instruction: str
    max_attempts: int
    branch: str
    created_by: str


class TurnValues(TypedDict, total=False):
    """What an ending attempt records about its turn (only the keys given are written)."""

    error: str
    summary: str
    files_changed: list[dict[str, Any]]
    commit_sha: str | None
    usage: dict[str, Any]
    session_id: str | None
    patch_uri: str
    bundle_uri: str


def _held(run_id: UUID, fence: AttemptFence) -> list[ColumnElement[bool]]:
    return [
        runs.c.id == run_id,
        runs.c.status == RunStatus.RUNNING,
        runs.c.turn == fence.turn,
        runs.c.attempt == fence.attempt,
        runs.c.lease_owner == fence.lease_owner,
    ]


async def get_run(conn: AsyncConnection, run_id: UUID) -> RunRow | None:
    """One run."""
    return await fetch_optional(conn, select(runs).where(runs.c.id == run_id), RunRow)


async def run_exists(conn: AsyncConnection, run_id: UUID) -> bool:
    """True when a run with this id exists."""
    return await conn.scalar(select(runs.c.id).where(runs.c.id == run_id)) is not None


async def list_runs(
    conn: AsyncConnection, task_id: UUID, cursor: str | None, limit: int
) -> list[RunRow]:
    """A page of a task's runs, newest first (limit + 1 rows to detect a next page)."""
    query = (
        select(runs)
        .where(runs.c.task_id == task_id, *after_cursor(runs, cursor))
        .order_by(*newest_first(runs))
        .limit(limit + 1)
    )
    return await fetch_all(conn, query, RunRow)


async def count_active_runs(conn: AsyncConnection, owner: str) -> int:
    """Runs of `owner` that are queued or running."""
    count = await conn.scalar(
        select(func.count())
        .select_from(runs)
        .where(runs.c.created_by == owner, runs.c.status.in_(ACTIVE))
    )
    return int(count or 0)


async def count_active_task_runs(conn: AsyncConnection, task_id: UUID) -> int:
    """Runs of a task that are queued or running."""
    count = await conn.scalar(
        select(func.count())
        .select_from(runs)
        .where(runs.c.task_id == task_id, runs.c.status.in_(ACTIVE))
    )
    return int(count or 0)


async def count_queued(conn: AsyncConnection) -> int:
    """Runs waiting for a worker (the queue depth the scaling rule and alerts watch)."""
    count = await conn.scalar(
        select(func.count()).select_from(runs).where(runs.c.status == RunStatus.QUEUED)
    )
    return int(count or 0)


async def lock_owner_runs(conn: AsyncConnection, owner: str) -> None:
    """Serialise concurrent submissions of one user so the active-run limit holds."""
    await conn.execute(select(func.pg_advisory_xact_lock(OWNER_LOCK, func.hashtext(owner))))


async def lock_task_runs(conn: AsyncConnection, task_id: UUID) -> None:
    """Serialise concurrent submissions on one task so the per-task limit holds."""
    key = func.hashtext(str(task_id))
    await conn.execute(select(func.pg_advisory_xact_lock(TASK_LOCK, key)))


async def ever_succeeded(conn: AsyncConnection, run_id: UUID) -> bool:
    """True if any turn of the run succeeded (it has something to propose)."""
    succeeded = select(run_attempts.c.run_id).where(
        run_attempts.c.run_id == run_id, run_attempts.c.status == RunStatus.SUCCEEDED
    )
    current = select(runs.c.id).where(runs.c.id == run_id, runs.c.status == RunStatus.SUCCEEDED)
    return bool(await conn.scalar(select(exists(succeeded) | exists(current))))


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


async def take_lease(
    conn: AsyncConnection, run_id: UUID, fence: AttemptFence, lease: timedelta
) -> bool:
    """queued -> running for this turn and attempt, held by `fence.lease_owner`."""
    claimed = await conn.scalar(
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
        .returning(runs.c.id)
    )
    return claimed is not None


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


async def reserve_seqs(
    conn: AsyncConnection, run_id: UUID, count: int, fence: AttemptFence | None
) -> SeqRange | None:
    """Move `last_seq` on by `count`; None when `fence` no longer holds the run."""
    claim = (
        update(runs)
        .where(runs.c.id == run_id)
        .values(last_seq=runs.c.last_seq + count)
        .returning(runs.c.last_seq, runs.c.task_id, runs.c.turn, runs.c.attempt)
    )
    if fence is not None:
        claim = claim.where(*_held(run_id, fence)[1:])
    return await fetch_optional(conn, claim, SeqRange)
