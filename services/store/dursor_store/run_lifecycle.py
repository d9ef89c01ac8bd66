"""A run's state machine as the services drive it: each transition with what it announces.

`queued → running → succeeded | failed | cancelled | timed_out`, a lost lease retried as
the next attempt, a follow-up queued as the next turn. Each function changes the run
(through `dursor_store.runs`, the only writer of its status), logs the matching event
and enqueues the matching message in the caller's unit of work, so the three commit
together.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import (
    EndedData,
    EventType,
    RunCancelRequestedV1,
    RunRequestedV1,
    RunStatus,
    StatusData,
)
from dursor_contracts.executors import ExecutorSpec
from dursor_contracts.integrations import LifecycleStage
from dursor_contracts.topics import RUN_CANCEL_REQUESTED, RUN_REQUESTED
from dursor_contracts.usage import TurnUsage
from dursor_kit.db.rows import fetch_optional
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_store import pr_loop, run_attempts, run_reads, runs, usage
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.integration_events import announce_run
from dursor_store.outbox import enqueue
from dursor_store.run_rows import AttemptFence, NewRun, RunRef, RunRow, TurnValues
from dursor_store.schema import messages, repo_environments, repos, tasks

USER_ROLE = "user"


@dataclass(frozen=True)
class ClaimedRun:
    """A run a worker holds the lease of, with what executing it needs."""

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
    created_by: str = ""
    # What the agent reported for the run's previous turn (its session totals, for Codex).
    earlier_usage: dict[str, Any] = field(default_factory=dict)
    # The repository's setup commands, run in the jail before the agent.
    setup_commands: list[str] = field(default_factory=list)
    # ... and its verify commands, run after the agent.
    verify_commands: list[str] = field(default_factory=list)
    # The patch of the attempt that ended the previous turn (its agent home lies beside it).
    patch_uri: str | None = None
    # The seq of the attempt's own `running` event: the log's head when it starts.
    last_seq: int = 0
    # The commit the submission starts from; None until one of its runs is claimed.
    base_commit: str | None = None
    repo_id: UUID | None = None
    # True when the repository's environment was set through the API (it then wins over
    # the repository's own `.dursor/environment.yml`).
    environment_set: bool = False

    def fence(self, worker_id: str) -> AttemptFence:
        """The fence that keeps this attempt's writes from outliving its lease."""
        return AttemptFence(turn=self.turn, attempt=self.attempt, lease_owner=worker_id)


class _ClaimRow(RunRow):
    repo_id: UUID
    base_branch: str
    title: str
    repo_url: str
    setup_commands: list[str] | None
    verify_commands: list[str] | None


async def _current(conn: AsyncConnection, run_id: UUID) -> RunRow:
    run = await run_reads.get_run(conn, run_id)
    assert run is not None, "a run this transaction just changed exists"
    return run


async def _announce_queued(work: UnitOfWork, run: RunRow) -> RunRow:
    """Announce `accepted`, enqueue `run-requested`, log `queued`; the run as it now is."""
    # The relay publishes run-requested first, then `accepted` in the same round, while the
    # runner's `started` needs its claim to commit and its own relay round: `accepted`
    # leads in practice, and `sequence` orders the two for a consumer in any case. This
    # transaction holds the run's row, so the `queued` event below takes the next seq.
    if run.attempt == 1:
        await announce_run(work, run, LifecycleStage.ACCEPTED, sequence=run.last_seq + 1)
    await enqueue(
        work,
        RUN_REQUESTED,
        RunRequestedV1(run_id=run.id, task_id=run.task_id, turn=run.turn, attempt=run.attempt),
    )
    status = StatusData(status=RunStatus.QUEUED, turn=run.turn, attempt=run.attempt)
    (queued,) = await append_events(work, run.id, [NewEvent(EventType.STATUS, status)])
    # The run as it now is without reading it again: the append moved only its `last_seq`.
    return run.model_copy(update={"last_seq": queued.seq})


async def queue_new_run(work: UnitOfWork, new: NewRun) -> RunRow:
    """A new run, queued, announced to the runners and to its watchers."""
    return await _announce_queued(work, await runs.insert_queued(work.conn, new))


async def queue_next_turn(work: UnitOfWork, run_id: UUID) -> RunRow | None:
    """A finished run queued again for its next turn; None if it is not finished."""
    queued = await runs.queue_next_turn(work.conn, run_id)
    return None if queued is None else await _announce_queued(work, queued)


async def cancel(work: UnitOfWork, run_id: UUID, reason: str, requested_by: str) -> None:
    """Cancel a queued run at once; ask the worker of a running one (first request wins)."""
    if await runs.cancel_queued(work.conn, run_id, reason) is not None:
        ended = NewEvent(EventType.CANCELLED, EndedData(reason=reason))
        await append_events(work, run_id, [ended])
        await announce_run(work, await _current(work.conn, run_id), LifecycleStage.FINISHED)
    elif await runs.request_cancel(work.conn, run_id, reason) is not None:
        request = RunCancelRequestedV1(run_id=run_id, reason=reason, requested_by=requested_by)
        await enqueue(work, RUN_CANCEL_REQUESTED, request)


async def claim(
    work: UnitOfWork, run_id: UUID, turn: int, attempt: int, worker: str, lease: timedelta
) -> ClaimedRun | None:
    """Take a queued run's given turn and attempt; None if someone else has it."""
    fence = AttemptFence(turn=turn, attempt=attempt, lease_owner=worker)
    row = await fetch_optional(work.conn, _claim_statement(run_id, fence, lease), _ClaimRow)
    if row is None:
        return None
    run = await _claimed(work.conn, row)
    status = StatusData(status=RunStatus.RUNNING, turn=turn, attempt=attempt, worker=worker)
    (running,) = await append_events(work, run_id, [NewEvent(EventType.STATUS, status)], fence)
    # The claimed row as it now is: the append above moved only its `last_seq`.
    now = RunRow.model_validate(row.model_dump() | {"last_seq": running.seq})
    await announce_run(work, now, LifecycleStage.STARTED)
    return replace(run, last_seq=running.seq)


async def claim_next(work: UnitOfWork, worker: str, lease: timedelta) -> ClaimedRun | None:
    """Take the oldest queued run nobody is claiming right now."""
    ref = await runs.oldest_queued(work.conn)
    if ref is None:
        return None
    return await claim(work, ref.id, ref.turn, ref.attempt, worker, lease)


async def end_turn(
    work: UnitOfWork, run_id: UUID, fence: AttemptFence, status: RunStatus, values: TurnValues
) -> bool:
    """Move the held run to a terminal status; False if the lease was lost meanwhile.

    The caller has logged the turn's terminal event in this unit of work already.
    """
    run_values = cast(TurnValues, {k: v for k, v in values.items() if k != "verification"})
    if not await runs.end_turn(work.conn, run_id, fence, status, run_values):
        return False
    error = values.get("error")
    await run_attempts.end_attempt(
        work.conn, run_id, fence.turn, fence.attempt, status, error, values.get("verification")
    )
    if "usage" in values:
        await _record_usage(work, run_id, fence, values["usage"])
    await announce_run(work, await _current(work.conn, run_id), LifecycleStage.FINISHED)
    return True


async def _record_usage(
    work: UnitOfWork, run_id: UUID, fence: AttemptFence, recorded: dict[str, Any]
) -> None:
    """The turn's normalized usage (`TurnUsage` fields plus the executor's own `reported`)."""
    figures = TurnUsage.model_validate(recorded)
    reported = recorded.get("reported")
    reported = reported if isinstance(reported, dict) else {}
    await usage.record_turn(work.conn, run_id, fence.turn, fence.attempt, figures, reported)


async def requeue_or_fail(
    work: UnitOfWork,
    run: RunRef,
    reason: str,
    lease_owner: str | None = None,
) -> RunStatus | None:
    """End a running attempt: cancelled if asked, else the next attempt, else failed."""
    held = await runs.lock_running(work.conn, run.id, run.turn, run.attempt, lease_owner)
    if held is None:
        return None
    error: str | None = None
    if held.cancel_requested_at is not None:
        outcome, error = RunStatus.CANCELLED, held.cancel_reason or reason
    elif run.attempt < run.max_attempts:
        outcome = RunStatus.QUEUED
    else:
        outcome = RunStatus.FAILED
        error = f"{reason}; gave up after {run.max_attempts} attempts"
    await runs.leave_running(work.conn, run.id, run.turn, run.attempt, lease_owner, outcome, error)
    ended = RunStatus.CANCELLED if outcome is RunStatus.CANCELLED else RunStatus.FAILED
    await run_attempts.end_attempt(work.conn, run.id, run.turn, run.attempt, ended, reason)
    await _announce_left(work, run, held.task_id, outcome, error or reason)
    return outcome


async def _announce_left(
    work: UnitOfWork, run: RunRef, task_id: UUID, outcome: RunStatus, why: str
) -> None:
    if outcome is RunStatus.QUEUED:
        next_attempt = run.attempt + 1
        status = StatusData(status=outcome, turn=run.turn, attempt=next_attempt, reason=why)
        await append_events(work, run.id, [NewEvent(EventType.STATUS, status)])
        message = RunRequestedV1(
            run_id=run.id, task_id=task_id, turn=run.turn, attempt=next_attempt
        )
        await enqueue(work, RUN_REQUESTED, message)
        return
    event = EventType.CANCELLED if outcome is RunStatus.CANCELLED else EventType.FAILED
    await append_events(work, run.id, [NewEvent(event, EndedData(reason=why))])
    await announce_run(work, await _current(work.conn, run.id), LifecycleStage.FINISHED)


async def reap_expired(
    work: UnitOfWork, reason: str, batch: int
) -> list[tuple[RunRef, RunStatus | None]]:
    """Requeue or fail every run whose lease expired; what became of each."""
    expired = await runs.expired_leases(work.conn, batch)
    return [(run, await requeue_or_fail(work, run, reason)) for run in expired]


def _claim_statement(run_id: UUID, fence: AttemptFence, lease: timedelta) -> Select[Any]:
    """The lease taken, the attempt opened and what executing the run needs: one statement."""
    claimed = runs.take_lease(run_id, fence, lease)
    opened = run_attempts.start_attempt(claimed, fence.lease_owner)
    return (
        select(
            claimed,
            tasks.c.base_branch,
            tasks.c.title,
            repos.c.url.label("repo_url"),
            repos.c.id.label("repo_id"),
            repo_environments.c.setup.label("setup_commands"),
            repo_environments.c.verify.label("verify_commands"),
        )
        .join(tasks, tasks.c.id == claimed.c.task_id)
        .join(repos, repos.c.id == tasks.c.repo_id)
        .outerjoin(repo_environments, repo_environments.c.repo_id == repos.c.id)
        .add_cte(opened)
    )


async def _claimed(conn: AsyncConnection, row: _ClaimRow) -> ClaimedRun:
    return ClaimedRun(
        id=row.id,
        task_id=row.task_id,
        turn=row.turn,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        executor=row.executor,
        instruction=await _instruction(conn, row),
        branch=row.branch,
        session_id=row.session_id,
        bundle_uri=row.bundle_uri,
        repo_url=row.repo_url,
        base_branch=row.base_branch,
        title=row.title,
        created_by=row.created_by,
        earlier_usage=_reported(row.usage),
        setup_commands=list(row.setup_commands or []),
        verify_commands=list(row.verify_commands or []),
        patch_uri=row.patch_uri,
        base_commit=row.base_commit,
        repo_id=row.repo_id,
        environment_set=row.setup_commands is not None,
    )


def _reported(usage: dict[str, Any]) -> dict[str, Any]:
    reported = usage.get("reported", usage)
    return dict(reported) if isinstance(reported, dict) else {}


async def _instruction(conn: AsyncConnection, run: RunRow) -> str:
    """The instruction of the run's current turn: the run's own, its follow-up, or the loop's."""
    if run.turn == 1:
        return run.instruction
    if (from_loop := await pr_loop.sent_text_of_turn(conn, run.id, run.turn)) is not None:
        return from_loop
    follow_up = await conn.scalar(
        select(messages.c.content)
        .where(
            messages.c.run_id == run.id,
            messages.c.turn == run.turn,
            messages.c.role == USER_ROLE,
        )
        .order_by(messages.c.created_at.desc())
        .limit(1)
    )
    return str(follow_up if follow_up is not None else run.instruction)
