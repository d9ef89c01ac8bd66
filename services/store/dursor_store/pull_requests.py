"""The pull-request lifecycle: one record per run, requested by run-api, opened by agent-runner.

Every write of `pull_requests` is here: a request (with its `pr-requested` message), the
runner's outcome, GitHub's news (webhooks, CI polls), and re-requests of records whose
message was lost. Each change others may care about (opened, failed, CI status, head,
merged, closed) is announced on the public `pull-request-updated` topic in the same
unit of work. The one mapping from GitHub's check conclusions to a CI status is here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import PrRequestedV1
from dursor_contracts.integrations import PullRequestUpdatedV1, WebhookEventType
from dursor_contracts.pull_requests import CiStatus, PullRequestState
from dursor_contracts.topics import PR_REQUESTED, PULL_REQUEST_UPDATED
from dursor_kit.db.rows import TableRow, fetch_all, fetch_optional
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.outbox import enqueue
from dursor_store.run_rows import RunRow
from dursor_store.schema import pull_requests, repos, runs, tasks
from dursor_store.webhook_deliveries import fan_out

# GitHub's conclusion of a check run (or state of a commit status) -> our CI status;
# anything else (queued, in progress, unknown words) is still pending.
CI_STATUS_OF_CONCLUSION: dict[str, CiStatus] = {
    "success": CiStatus.SUCCESS,
    "neutral": CiStatus.SUCCESS,
    "skipped": CiStatus.SUCCESS,
    "failure": CiStatus.FAILURE,
    "timed_out": CiStatus.FAILURE,
    "cancelled": CiStatus.FAILURE,
    "action_required": CiStatus.FAILURE,
    "startup_failure": CiStatus.FAILURE,
    "error": CiStatus.FAILURE,
    "pending": CiStatus.PENDING,
}
STALE_REQUEST = timedelta(minutes=2)


def ci_status_of(conclusion: str | None) -> CiStatus:
    """The CI status one check conclusion (or commit status state) means."""
    return CI_STATUS_OF_CONCLUSION.get(conclusion or "", CiStatus.PENDING)


def overall_ci_status(outcomes: Iterable[str | None]) -> CiStatus:
    """Failure if any check failed, success if all passed, unknown if there are none."""
    statuses = [ci_status_of(outcome) for outcome in outcomes]
    if not statuses:
        return CiStatus.UNKNOWN
    if CiStatus.FAILURE in statuses:
        return CiStatus.FAILURE
    if all(status is CiStatus.SUCCESS for status in statuses):
        return CiStatus.SUCCESS
    return CiStatus.PENDING


class PullRequestRow(TableRow):
    """A run's pull request record."""

    id: UUID
    run_id: UUID
    task_id: UUID
    number: int | None
    url: str | None
    state: PullRequestState
    head_branch: str
    base_branch: str
    head_sha: str | None
    ci_status: CiStatus
    ci_etag: str | None
    title: str | None
    error: str | None
    requested_by: str
    created_at: datetime
    updated_at: datetime


class PublishJob(TableRow):
    """What pushing a run's branch and opening its pull request needs."""

    id: UUID
    number: int | None
    run_id: UUID
    branch: str
    bundle_uri: str | None
    instruction: str
    summary: str | None
    files_changed: list[dict[str, Any]]
    executor_type: str
    model: str | None
    turn: int
    title: str
    base_branch: str
    url: str


class PolledPullRequest(PullRequestRow):
    """An open pull request due for a CI poll, with its repository's URL."""

    repo_url: str


class ReviewedRun(TableRow):
    """The run behind a pull request and its repository's URL."""

    run_id: UUID
    url: str


async def get_for_run(conn: AsyncConnection, run_id: UUID) -> PullRequestRow | None:
    """The run's pull request record, if it has one."""
    statement = select(pull_requests).where(pull_requests.c.run_id == run_id)
    return await fetch_optional(conn, statement, PullRequestRow)


async def list_for_task(
    conn: AsyncConnection, task_id: UUID, cursor: str | None, limit: int
) -> list[PullRequestRow]:
    """A page of a task's pull request records, newest first."""
    query = (
        select(pull_requests)
        .where(pull_requests.c.task_id == task_id, *after_cursor(pull_requests, cursor))
        .order_by(*newest_first(pull_requests))
        .limit(limit + 1)
    )
    return await fetch_all(conn, query, PullRequestRow)


async def request(
    work: UnitOfWork, run: RunRow, base_branch: str, requested_by: str
) -> PullRequestRow | None:
    """Record the run's pull request as requested (again, unless merged) with its message."""
    values = {
        "id": uuid4(),
        "run_id": run.id,
        "task_id": run.task_id,
        "state": PullRequestState.REQUESTED,
        "head_branch": run.branch,
        "base_branch": base_branch,
        "requested_by": requested_by,
    }
    statement = insert(pull_requests).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[pull_requests.c.run_id],
        set_={
            "state": PullRequestState.REQUESTED,
            "error": None,
            "requested_by": requested_by,
            "updated_at": func.now(),
        },
        where=pull_requests.c.state != PullRequestState.MERGED,
    )
    record = await fetch_optional(work.conn, statement.returning(pull_requests), PullRequestRow)
    if record is not None:
        await _announce(work, record.run_id, record.id, requested_by)
    return record


async def _announce(work: UnitOfWork, run_id: UUID, pr_id: UUID, requested_by: str) -> None:
    message = PrRequestedV1(run_id=run_id, pull_request_id=pr_id, requested_by=requested_by)
    await enqueue(work, PR_REQUESTED, message)


async def request_update_of_open(work: UnitOfWork, run_id: UUID) -> None:
    """A turn that succeeded on a run with an open pull request pushes its commits to it."""
    statement = (
        update(pull_requests)
        .where(pull_requests.c.run_id == run_id, pull_requests.c.state == PullRequestState.OPEN)
        .values(updated_at=func.now())
        .returning(pull_requests)
    )
    record = await fetch_optional(work.conn, statement, PullRequestRow)
    if record is not None:
        await _announce(work, run_id, record.id, record.requested_by)


async def request_stale_again(work: UnitOfWork) -> None:
    """Requested records whose message was lost (a worker died after acknowledging it)."""
    stale = await fetch_all(
        work.conn,
        select(pull_requests)
        .where(
            pull_requests.c.state == PullRequestState.REQUESTED,
            pull_requests.c.updated_at < func.now() - STALE_REQUEST,
        )
        .with_for_update(skip_locked=True),
        PullRequestRow,
    )
    for record in stale:
        await work.conn.execute(
            update(pull_requests)
            .where(pull_requests.c.id == record.id)
            .values(updated_at=func.now())
        )
        await _announce(work, record.run_id, record.id, record.requested_by)


async def set_ci_of_head(work: UnitOfWork, head_sha: str, status: CiStatus) -> list[PullRequestRow]:
    """GitHub reported CI of a commit: every pull request open at that head takes it.

    One being updated (requested again) counts as open: its head is still that commit
    until the runner records a new one, and the report must not be lost meanwhile.
    """
    open_states = (PullRequestState.OPEN, PullRequestState.REQUESTED)
    where = (pull_requests.c.head_sha == head_sha, pull_requests.c.state.in_(open_states))
    return await _update_announcing(work, where, ci_status=status)


async def set_state_of_url(
    work: UnitOfWork, url: str, state: PullRequestState
) -> PullRequestRow | None:
    """GitHub reported a pull request's state (open, closed, merged)."""
    changed = await _update_announcing(work, (pull_requests.c.url == url,), state=state)
    return changed[0] if changed else None


async def _update_announcing(
    work: UnitOfWork, where: tuple[ColumnElement[bool], ...], **values: Any
) -> list[PullRequestRow]:
    """Update the matching records; announce each one whose public state changed."""
    before = {
        row.id: row
        for row in await fetch_all(
            work.conn, select(pull_requests).where(*where).with_for_update(), PullRequestRow
        )
    }
    after = await fetch_all(
        work.conn,
        update(pull_requests)
        .where(*where)
        .values(updated_at=func.now(), **values)
        .returning(pull_requests),
        PullRequestRow,
    )
    for row in after:
        if _publicly_changed(before.get(row.id), row):
            await _announce_update(work, row)
    return after


def _publicly_changed(before: PullRequestRow | None, after: PullRequestRow) -> bool:
    if after.state is PullRequestState.REQUESTED:
        return False
    fields = ("state", "ci_status", "url", "head_sha")
    return before is None or any(getattr(before, f) != getattr(after, f) for f in fields)


async def _announce_update(work: UnitOfWork, row: PullRequestRow) -> None:
    message = PullRequestUpdatedV1(
        pull_request_id=row.id,
        run_id=row.run_id,
        task_id=row.task_id,
        state=row.state,
        ci_status=row.ci_status,
        number=row.number,
        url=row.url,
        head_sha=row.head_sha,
        occurred_at=row.updated_at,
    )
    event_id = await enqueue(work, PULL_REQUEST_UPDATED, message)
    await fan_out(
        work, WebhookEventType.PULL_REQUEST_UPDATED, str(event_id), str(row.run_id), message
    )


async def run_of_pull_request(conn: AsyncConnection, url: str, number: int) -> ReviewedRun | None:
    """The run behind a pull request and its repository's URL."""
    statement = (
        select(pull_requests.c.run_id, repos.c.url)
        .select_from(
            pull_requests.join(runs, runs.c.id == pull_requests.c.run_id)
            .join(tasks, tasks.c.id == runs.c.task_id)
            .join(repos, repos.c.id == tasks.c.repo_id)
        )
        .where(pull_requests.c.url == url, pull_requests.c.number == number)
    )
    return await fetch_optional(conn, statement, ReviewedRun)


async def publish_job(conn: AsyncConnection, pr_id: UUID) -> PublishJob | None:
    """The record with its run's branch, bundle and texts, its task and repository."""
    statement = (
        select(
            pull_requests.c.id,
            pull_requests.c.number,
            pull_requests.c.run_id,
            runs.c.branch,
            runs.c.bundle_uri,
            runs.c.instruction,
            runs.c.summary,
            runs.c.files_changed,
            runs.c.executor_type,
            runs.c.model,
            runs.c.turn,
            tasks.c.title,
            tasks.c.base_branch,
            repos.c.url,
        )
        .join(runs, runs.c.id == pull_requests.c.run_id)
        .join(tasks, tasks.c.id == runs.c.task_id)
        .join(repos, repos.c.id == tasks.c.repo_id)
        .where(pull_requests.c.id == pr_id)
    )
    return await fetch_optional(conn, statement, PublishJob)


async def record_open(work: UnitOfWork, pr_id: UUID, number: int, url: str, head_sha: str) -> None:
    """The runner opened (or updated) the pull request on GitHub."""
    await _save(
        work,
        pr_id,
        number=number,
        url=url,
        state=PullRequestState.OPEN,
        head_sha=head_sha,
        error=None,
    )


async def record_failure(work: UnitOfWork, pr_id: UUID, reason: str) -> None:
    """The runner could not open the pull request, for good."""
    await _save(work, pr_id, state=PullRequestState.FAILED, error=reason)


async def _save(work: UnitOfWork, pr_id: UUID, **values: Any) -> None:
    await _update_announcing(work, (pull_requests.c.id == pr_id,), **values)


async def open_for_polling(conn: AsyncConnection, batch: int) -> list[PolledPullRequest]:
    """Open pull requests, least recently updated first, locked for this poll."""
    statement = (
        select(pull_requests, repos.c.url.label("repo_url"))
        .join(tasks, tasks.c.id == pull_requests.c.task_id)
        .join(repos, repos.c.id == tasks.c.repo_id)
        .where(pull_requests.c.state == PullRequestState.OPEN, pull_requests.c.number.is_not(None))
        .order_by(pull_requests.c.updated_at)
        .limit(batch)
        .with_for_update(of=pull_requests, skip_locked=True)
    )
    return await fetch_all(conn, statement, PolledPullRequest)


async def record_poll(
    work: UnitOfWork,
    pr_id: UUID,
    ci: CiStatus,
    state: PullRequestState,
    head_sha: str,
    etags: dict[str, str | None],
) -> None:
    """What a CI poll saw: status, state, head and the ETags valid for that head."""
    await _save(
        work, pr_id, ci_status=ci, state=state, head_sha=head_sha, ci_etag=json.dumps(etags)
    )
