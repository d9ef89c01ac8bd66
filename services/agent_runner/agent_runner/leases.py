"""Claiming runs, renewing and ending leases: every write a compare-and-set in Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_contracts.events import EndedData, EventType, RunRequestedV1, RunStatus, StatusData
from dursor_contracts.executors import ExecutorSpec, executor_spec
from dursor_contracts.topics import RUN_REQUESTED
from dursor_store.eventlog import AttemptFence, NewEvent, append_events
from dursor_store.outbox import enqueue
from dursor_store.schema import messages, repos, run_attempts, runs, tasks


@dataclass(frozen=True)
class ClaimedRun:
    """A run this worker holds the lease of, with what executing it needs."""

    id: UUID
    task_id: UUID
    turn: int
    attempt: int
    max_attempts: int
    executor: ExecutorSpec
    instruction: str
    branch: str
    session_id: str | None
    bundle_uri: str | None
    repo_url: str
    base_branch: str
    title: str

    def fence(self, worker_id: str) -> AttemptFence:
        """The fence that keeps this attempt's writes from outliving its lease."""
        return AttemptFence(turn=self.turn, attempt=self.attempt, lease_owner=worker_id)


@dataclass(frozen=True)
class Renewal:
    """The answer of a heartbeat: still ours, and whether someone asked to cancel."""

    cancel_reason: str | None


class RunLeases:
    """Claim, renew, end and release runs for one worker."""

    def __init__(self, engine: AsyncEngine, worker_id: str, lease_seconds: float) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._lease = timedelta(seconds=lease_seconds)

    async def claim(self, run_id: UUID, turn: int, attempt: int) -> ClaimedRun | None:
        """Take a queued run's given turn and attempt; None if someone else has it."""
        async with self.engine.begin() as conn:
            return await self._claim(conn, run_id, turn, attempt)

    async def claim_next(self) -> ClaimedRun | None:
        """Take the oldest queued run nobody is claiming right now."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(runs.c.id, runs.c.turn, runs.c.attempt)
                    .where(runs.c.status == "queued", runs.c.cancel_requested_at.is_(None))
                    .order_by(runs.c.queued_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if row is None:
                return None
            return await self._claim(conn, row.id, row.turn, row.attempt)

    async def _claim(
        self, conn: AsyncConnection, run_id: UUID, turn: int, attempt: int
    ) -> ClaimedRun | None:
        claimed = (
            await conn.execute(
                update(runs)
                .where(
                    runs.c.id == run_id,
                    runs.c.status == "queued",
                    runs.c.turn == turn,
                    runs.c.attempt == attempt,
                    runs.c.cancel_requested_at.is_(None),
                )
                .values(
                    status="running",
                    lease_owner=self.worker_id,
                    lease_expires_at=func.now() + self._lease,
                    started_at=func.coalesce(runs.c.started_at, func.now()),
                )
                .returning(runs.c.id)
            )
        ).one_or_none()
        if claimed is None:
            return None
        await conn.execute(
            insert(run_attempts).values(
                run_id=run_id,
                turn=turn,
                attempt=attempt,
                status="running",
                worker=self.worker_id,
                started_at=func.now(),
            )
        )
        run = await _load(conn, run_id)
        status = StatusData(
            status=RunStatus.RUNNING, turn=turn, attempt=attempt, worker=self.worker_id
        )
        await append_events(
            conn, run_id, [NewEvent(EventType.STATUS, status)], run.fence(self.worker_id)
        )
        return run

    async def renew(self, run: ClaimedRun) -> Renewal | None:
        """Extend the lease; None when it is no longer ours (reaped or ended)."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(runs)
                    .where(*self._held(run))
                    .values(lease_expires_at=func.now() + self._lease)
                    .returning(runs.c.cancel_requested_at, runs.c.cancel_reason)
                )
            ).one_or_none()
        if row is None:
            return None
        reason = (row.cancel_reason or "cancel requested") if row.cancel_requested_at else None
        return Renewal(cancel_reason=reason)

    def _held(self, run: ClaimedRun) -> list[Any]:
        return [
            runs.c.id == run.id,
            runs.c.status == "running",
            runs.c.turn == run.turn,
            runs.c.attempt == run.attempt,
            runs.c.lease_owner == self.worker_id,
        ]

    async def end(
        self, conn: AsyncConnection, run: ClaimedRun, status: RunStatus, values: dict[str, Any]
    ) -> bool:
        """Move the held run to a terminal status; False if the lease was lost meanwhile."""
        done = (
            await conn.execute(
                update(runs)
                .where(*self._held(run))
                .values(
                    status=status.value,
                    finished_at=func.now(),
                    lease_owner=None,
                    lease_expires_at=None,
                    **values,
                )
                .returning(runs.c.id)
            )
        ).one_or_none()
        if done is None:
            return False
        await _end_attempt(conn, run.id, run.turn, run.attempt, status, values.get("error"))
        return True

    async def release(self, run: ClaimedRun, reason: str) -> None:
        """Give a held run back (worker shutting down): next attempt, or failed if none is left."""
        async with self.engine.begin() as conn:
            await requeue_or_fail(
                conn,
                run.id,
                run.turn,
                run.attempt,
                run.max_attempts,
                reason,
                lease_owner=self.worker_id,
            )


async def requeue_or_fail(
    conn: AsyncConnection,
    run_id: UUID,
    turn: int,
    attempt: int,
    max_attempts: int,
    reason: str,
    lease_owner: str | None = None,
) -> RunStatus | None:
    """End a running attempt: cancelled if asked, else the next attempt, else failed."""
    conditions = [
        runs.c.id == run_id,
        runs.c.status == "running",
        runs.c.turn == turn,
        runs.c.attempt == attempt,
    ]
    if lease_owner is not None:
        conditions.append(runs.c.lease_owner == lease_owner)
    run = (
        await conn.execute(
            select(runs.c.task_id, runs.c.cancel_requested_at, runs.c.cancel_reason)
            .where(*conditions)
            .with_for_update()
        )
    ).one_or_none()
    if run is None:
        return None
    if run.cancel_requested_at is not None:
        outcome, values = RunStatus.CANCELLED, {"error": run.cancel_reason or reason}
    elif attempt < max_attempts:
        outcome, values = RunStatus.QUEUED, {"attempt": attempt + 1, "queued_at": func.now()}
    else:
        outcome = RunStatus.FAILED
        values = {"error": f"{reason}; gave up after {max_attempts} attempts"}
    if outcome is not RunStatus.QUEUED:
        values["finished_at"] = func.now()
    await conn.execute(
        update(runs)
        .where(*conditions)
        .values(status=outcome.value, lease_owner=None, lease_expires_at=None, **values)
    )
    ended = RunStatus.CANCELLED if outcome is RunStatus.CANCELLED else RunStatus.FAILED
    await _end_attempt(conn, run_id, turn, attempt, ended, reason)
    await _announce(conn, run_id, run.task_id, turn, attempt, outcome, values, reason)
    return outcome


async def _announce(
    conn: AsyncConnection,
    run_id: UUID,
    task_id: UUID,
    turn: int,
    attempt: int,
    outcome: RunStatus,
    values: dict[str, Any],
    reason: str,
) -> None:
    if outcome is RunStatus.QUEUED:
        status = StatusData(status=RunStatus.QUEUED, turn=turn, attempt=attempt + 1, reason=reason)
        await append_events(conn, run_id, [NewEvent(EventType.STATUS, status)])
        await enqueue(
            conn,
            RUN_REQUESTED,
            RunRequestedV1(run_id=run_id, task_id=task_id, turn=turn, attempt=attempt + 1),
        )
        return
    event = EventType.CANCELLED if outcome is RunStatus.CANCELLED else EventType.FAILED
    await append_events(conn, run_id, [NewEvent(event, EndedData(reason=str(values["error"])))])


async def _end_attempt(
    conn: AsyncConnection,
    run_id: UUID,
    turn: int,
    attempt: int,
    status: RunStatus,
    error: str | None,
) -> None:
    await conn.execute(
        update(run_attempts)
        .where(
            run_attempts.c.run_id == run_id,
            run_attempts.c.turn == turn,
            run_attempts.c.attempt == attempt,
            run_attempts.c.status == "running",
        )
        .values(status=status.value, finished_at=func.now(), error=error)
    )


async def _load(conn: AsyncConnection, run_id: UUID) -> ClaimedRun:
    row = (
        await conn.execute(
            select(runs, tasks.c.base_branch, tasks.c.title, repos.c.url.label("repo_url"))
            .join(tasks, tasks.c.id == runs.c.task_id)
            .join(repos, repos.c.id == tasks.c.repo_id)
            .where(runs.c.id == run_id)
        )
    ).one()
    return ClaimedRun(
        id=row.id,
        task_id=row.task_id,
        turn=row.turn,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        executor=executor_spec(
            row.executor_type, row.model, row.model_profile_id, dict(row.options)
        ),
        instruction=await _instruction(conn, row),
        branch=row.branch,
        session_id=row.session_id,
        bundle_uri=row.bundle_uri,
        repo_url=row.repo_url,
        base_branch=row.base_branch,
        title=row.title,
    )


async def _instruction(conn: AsyncConnection, run: Row[Any]) -> str:
    if run.turn == 1:
        return str(run.instruction)
    follow_up = await conn.scalar(
        select(messages.c.content)
        .where(messages.c.run_id == run.id, messages.c.turn == run.turn, messages.c.role == "user")
        .order_by(messages.c.created_at.desc())
        .limit(1)
    )
    return str(follow_up if follow_up is not None else run.instruction)
