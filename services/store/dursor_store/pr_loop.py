"""The pull-request loop's lifecycle: triggers from GitHub become turns, at most once each.

run-api records what a webhook told as a trigger (unique per pull request and key, so a
repeated delivery or the same review told twice counts once) and asks agent-runner to
advance the loop (`pr-requested` with `work=loop`). agent-runner takes the oldest
pending trigger when the run is free, gathers its context from GitHub, queues the run's
next turn with it, and afterwards records what came of it. A trigger that arrives while
a turn runs waits as pending; a green re-run, a newer head or a closed pull request
cancels pending ones; CI still red after the allowed rounds stops the loop once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import PrRequestedV1, RunStatus
from dursor_contracts.pull_requests import (
    CiStatus,
    LoopTriggerKind,
    LoopTriggerState,
    PrWork,
    PullRequestState,
)
from dursor_contracts.topics import PR_REQUESTED
from dursor_kit.db.rows import TableRow, fetch_all, fetch_optional
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_store.outbox import enqueue
from dursor_store.schema import pr_loop_triggers, pull_requests, repos, runs, tasks

TERMINAL = tuple(s.value for s in RunStatus if s.is_terminal)
OPEN_WORK = (LoopTriggerState.PENDING, LoopTriggerState.SENT, LoopTriggerState.EXHAUSTED)


class LoopPullRequest(TableRow):
    """A pull request with its run's state and the loop settings that apply to it."""

    id: UUID
    run_id: UUID
    number: int | None
    url: str | None
    state: PullRequestState
    head_sha: str | None
    ci_status: CiStatus
    ci_fix_rounds: int
    loop_stopped: str | None
    requested_by: str
    repo_url: str
    auto_fix_ci: bool
    max_rounds: int
    resolve_threads: bool
    run_status: RunStatus
    run_turn: int
    run_commit_sha: str | None
    run_finished_at: datetime | None


class NewTrigger(BaseModel):
    """What a webhook told, as a trigger of the loop."""

    model_config = ConfigDict(frozen=True)

    kind: LoopTriggerKind
    key: str
    source: str
    author: str
    delivery_id: str | None = None
    head_sha: str | None = None
    note: str | None = None


class TriggerRow(TableRow):
    """One trigger of a pull request's loop."""

    id: UUID
    pull_request_id: UUID
    run_id: UUID
    kind: LoopTriggerKind
    trigger_key: str
    delivery_id: str | None
    head_sha: str | None
    source: str
    author: str
    note: str | None
    state: LoopTriggerState
    round: int | None
    turn: int | None
    sent_text: str | None
    threads: list[dict[str, Any]]
    outcome: str | None
    created_at: datetime
    updated_at: datetime


def _loop_query() -> Select[Any]:
    return (
        select(
            pull_requests.c.id,
            pull_requests.c.run_id,
            pull_requests.c.number,
            pull_requests.c.url,
            pull_requests.c.state,
            pull_requests.c.head_sha,
            pull_requests.c.ci_status,
            pull_requests.c.ci_fix_rounds,
            pull_requests.c.loop_stopped,
            pull_requests.c.requested_by,
            repos.c.url.label("repo_url"),
            func.coalesce(tasks.c.auto_fix_ci, repos.c.auto_fix_ci).label("auto_fix_ci"),
            func.coalesce(tasks.c.auto_fix_ci_max_rounds, repos.c.auto_fix_ci_max_rounds).label(
                "max_rounds"
            ),
            repos.c.resolve_review_threads.label("resolve_threads"),
            runs.c.status.label("run_status"),
            runs.c.turn.label("run_turn"),
            runs.c.commit_sha.label("run_commit_sha"),
            runs.c.finished_at.label("run_finished_at"),
        )
        .join(runs, runs.c.id == pull_requests.c.run_id)
        .join(tasks, tasks.c.id == pull_requests.c.task_id)
        .join(repos, repos.c.id == tasks.c.repo_id)
    )


async def open_at_head(conn: AsyncConnection, head_sha: str) -> list[LoopPullRequest]:
    """Open pull requests whose head is this commit."""
    query = _loop_query().where(
        pull_requests.c.head_sha == head_sha, pull_requests.c.state == PullRequestState.OPEN
    )
    return await fetch_all(conn, query, LoopPullRequest)


async def of_url(conn: AsyncConnection, url: str) -> LoopPullRequest | None:
    """The pull request at this GitHub URL."""
    return await fetch_optional(
        conn, _loop_query().where(pull_requests.c.url == url), LoopPullRequest
    )


async def of_id(conn: AsyncConnection, pr_id: UUID) -> LoopPullRequest | None:
    """One pull request with its loop settings."""
    return await fetch_optional(
        conn, _loop_query().where(pull_requests.c.id == pr_id), LoopPullRequest
    )


async def of_run(conn: AsyncConnection, run_id: UUID) -> LoopPullRequest | None:
    """The run's pull request with its loop settings."""
    return await fetch_optional(
        conn, _loop_query().where(pull_requests.c.run_id == run_id), LoopPullRequest
    )


# --- what run-api records from webhooks ------------------------------------------------


async def add(
    work: UnitOfWork,
    pr: LoopPullRequest,
    new: NewTrigger,
    state: LoopTriggerState = LoopTriggerState.PENDING,
) -> TriggerRow | None:
    """Record a trigger; None when its key was recorded before (it counts once)."""
    statement = (
        insert(pr_loop_triggers)
        .values(
            id=uuid4(),
            pull_request_id=pr.id,
            run_id=pr.run_id,
            kind=new.kind,
            trigger_key=new.key,
            delivery_id=new.delivery_id,
            head_sha=new.head_sha,
            source=new.source,
            author=new.author,
            note=new.note,
            state=state,
        )
        .on_conflict_do_nothing(index_elements=["pull_request_id", "trigger_key"])
        .returning(pr_loop_triggers)
    )
    made = await fetch_optional(work.conn, statement, TriggerRow)
    if made is not None:
        await announce(work, pr)
    return made


async def record_ci_failure(
    work: UnitOfWork, pr: LoopPullRequest, head_sha: str, source: str, delivery: str | None
) -> str | None:
    """Failed CI on the head becomes a fix round, or stops a loop out of rounds.

    Returns what to note on the run, None when nothing was recorded (the loop is off or
    stopped, or this head's failure was recorded already: every CI source of one head
    commit makes one round).
    """
    if not pr.auto_fix_ci or pr.loop_stopped is not None:
        return None
    exhausted = pr.ci_fix_rounds >= pr.max_rounds
    new = NewTrigger(
        kind=LoopTriggerKind.CI,
        key=f"ci:{head_sha}",
        source=source,
        author="ci",
        delivery_id=delivery,
        head_sha=head_sha,
    )
    state = LoopTriggerState.EXHAUSTED if exhausted else LoopTriggerState.PENDING
    if await add(work, pr, new, state) is None:
        return None
    if exhausted:
        reason = f"CI is still red after {pr.ci_fix_rounds} fix rounds"
        await stop(work, pr.id, reason)
        return f"loop stopped on #{pr.number}: {reason}"
    fix = f"fix round {pr.ci_fix_rounds + 1} of {pr.max_rounds}"
    return f"loop trigger on #{pr.number}: CI failed on {head_sha[:12]} ({fix})"


async def stop(work: UnitOfWork, pr_id: UUID, reason: str) -> bool:
    """Stop the loop for good (the first reason wins); False if it had stopped already."""
    statement = (
        update(pull_requests)
        .where(pull_requests.c.id == pr_id, pull_requests.c.loop_stopped.is_(None))
        .values(loop_stopped=reason, updated_at=func.now())
        .returning(pull_requests.c.id)
    )
    return (await work.conn.execute(statement)).first() is not None


async def cancel_pending(
    conn: AsyncConnection,
    pr_id: UUID,
    reason: str,
    *,
    kind: LoopTriggerKind | None = None,
    head_sha: str | None = None,
    head_other_than: str | None = None,
    source: str | None = None,
) -> list[TriggerRow]:
    """Cancel pending triggers of a pull request (of one kind, head or source)."""
    conditions = [
        pr_loop_triggers.c.pull_request_id == pr_id,
        pr_loop_triggers.c.state == LoopTriggerState.PENDING,
    ]
    if kind is not None:
        conditions.append(pr_loop_triggers.c.kind == kind)
    if head_sha is not None:
        conditions.append(pr_loop_triggers.c.head_sha == head_sha)
    if head_other_than is not None:
        conditions.append(pr_loop_triggers.c.head_sha != head_other_than)
    if source is not None:
        conditions.append(pr_loop_triggers.c.source == source)
    statement = (
        update(pr_loop_triggers)
        .where(and_(*conditions))
        .values(state=LoopTriggerState.CANCELLED, outcome=reason, updated_at=func.now())
        .returning(pr_loop_triggers)
    )
    return await fetch_all(conn, statement, TriggerRow)


async def announce(work: UnitOfWork, pr: LoopPullRequest) -> None:
    """Ask agent-runner to advance the pull request's loop."""
    message = PrRequestedV1(
        run_id=pr.run_id,
        pull_request_id=pr.id,
        requested_by=pr.requested_by,
        work=PrWork.LOOP.value,
    )
    await enqueue(work, PR_REQUESTED, message)


async def triggers_of(conn: AsyncConnection, pr_id: UUID) -> list[TriggerRow]:
    """A pull request's triggers, oldest first."""
    query = (
        select(pr_loop_triggers)
        .where(pr_loop_triggers.c.pull_request_id == pr_id)
        .order_by(pr_loop_triggers.c.created_at, pr_loop_triggers.c.id)
    )
    return await fetch_all(conn, query, TriggerRow)


# --- what agent-runner does with them --------------------------------------------------


async def lock(conn: AsyncConnection, pr_id: UUID) -> LoopPullRequest | None:
    """The pull request, its loop held until the transaction ends (one advance at a time).

    An advisory lock, not a row lock: the run's own transitions and the CI poll lock the
    run and pull request rows in their own order, and must never wait for GitHub calls.
    """
    key = func.hashtextextended(f"pr-loop:{pr_id}", 0)
    await conn.execute(select(func.pg_advisory_xact_lock(key)))
    return await of_id(conn, pr_id)


async def has_open_work(conn: AsyncConnection, pr_id: UUID) -> bool:
    """Whether any trigger waits, is under way, or has a stop to say."""
    found = await conn.scalar(
        select(pr_loop_triggers.c.id)
        .where(
            pr_loop_triggers.c.pull_request_id == pr_id,
            pr_loop_triggers.c.state.in_(OPEN_WORK),
        )
        .limit(1)
    )
    return found is not None


async def in_state(conn: AsyncConnection, pr_id: UUID, state: LoopTriggerState) -> list[TriggerRow]:
    """A pull request's triggers in one state, oldest first."""
    query = (
        select(pr_loop_triggers)
        .where(pr_loop_triggers.c.pull_request_id == pr_id, pr_loop_triggers.c.state == state)
        .order_by(pr_loop_triggers.c.created_at, pr_loop_triggers.c.id)
    )
    return await fetch_all(conn, query, TriggerRow)


async def mark_sent(
    conn: AsyncConnection,
    trigger_id: UUID,
    turn: int,
    text: str | None,
    threads: list[dict[str, Any]],
    round_: int | None,
) -> None:
    """Its turn was queued with `text` (None: the turn's follow-up message holds it)."""
    await _set(
        conn,
        trigger_id,
        state=LoopTriggerState.SENT,
        turn=turn,
        sent_text=text,
        threads=threads,
        round=round_,
    )


async def finish(
    conn: AsyncConnection, trigger_id: UUID, state: LoopTriggerState, outcome: str
) -> None:
    """What came of a trigger: done, cancelled, or its stop said on the pull request."""
    await _set(conn, trigger_id, state=state, outcome=outcome)


async def _set(conn: AsyncConnection, trigger_id: UUID, **values: Any) -> None:
    await conn.execute(
        update(pr_loop_triggers)
        .where(pr_loop_triggers.c.id == trigger_id)
        .values(updated_at=func.now(), **values)
    )


async def count_ci_round(conn: AsyncConnection, pr_id: UUID) -> int:
    """One more CI-fix round sent; returns its number."""
    rounds = await conn.scalar(
        update(pull_requests)
        .where(pull_requests.c.id == pr_id)
        .values(ci_fix_rounds=pull_requests.c.ci_fix_rounds + 1, updated_at=func.now())
        .returning(pull_requests.c.ci_fix_rounds)
    )
    return int(rounds or 0)


async def sent_text_of_turn(conn: AsyncConnection, run_id: UUID, turn: int) -> str | None:
    """What the loop sent the agent for this turn of the run, if the loop queued it."""
    text = await conn.scalar(
        select(pr_loop_triggers.c.sent_text).where(
            pr_loop_triggers.c.run_id == run_id,
            pr_loop_triggers.c.turn == turn,
            pr_loop_triggers.c.sent_text.is_not(None),
        )
    )
    return None if text is None else str(text)


async def announce_waiting(work: UnitOfWork, batch: int) -> int:
    """Pull requests with loop work and a free run are asked again (a lost or early ask)."""
    waiting = (
        select(pr_loop_triggers.c.pull_request_id)
        .where(pr_loop_triggers.c.state.in_(OPEN_WORK))
        .distinct()
    )
    query = (
        _loop_query()
        .where(pull_requests.c.id.in_(waiting), runs.c.status.in_(TERMINAL))
        .limit(batch)
    )
    found = await fetch_all(work.conn, query, LoopPullRequest)
    for pr in found:
        await announce(work, pr)
    return len(found)
