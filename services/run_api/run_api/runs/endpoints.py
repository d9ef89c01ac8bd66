"""Runs: create (one per executor), read, follow up, cancel, patch, event log pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_contracts.events import RunEventV1
from dursor_kit.artifacts import ArtifactNotFound
from dursor_kit.errors import NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.security import Developer, Viewer
from dursor_kit.web.transactions import Tx
from dursor_store import run_reads as sql
from dursor_store.eventlog import read_events
from dursor_store.run_rows import RunRow
from run_api.declared import LIST_OF, READ, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Artifacts, Cursor, Engine, Limit
from run_api.runs import repository as message_sql
from run_api.runs.schemas import (
    CancelCreate,
    ExecutorOut,
    FollowUpCreate,
    MessageOut,
    RunOut,
    RunsAccepted,
    RunsCreate,
)
from run_api.runs.service import RunService
from run_api.schemas import Page
from run_api.tasks import repository as task_sql

router = APIRouter(prefix="/v1", tags=["runs"])
WRITE = write(404, 429)


def _runs(request: Request) -> RunService:
    service: RunService = request.app.state.run_service
    return service


Runs = Annotated[RunService, Depends(_runs)]


def run_out(row: RunRow) -> RunOut:
    """The public view of a run row."""
    executor = ExecutorOut(
        type=row.executor_type,
        model=row.model,
        model_profile_id=row.model_profile_id,
        options=dict(row.options),
    )
    return RunOut(
        id=row.id,
        task_id=row.task_id,
        executor=executor,
        status=row.status,
        turn=row.turn,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        branch=row.branch,
        instruction=row.instruction,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        summary=row.summary,
        files_changed=row.files_changed,
        error=row.error,
        commit_sha=row.commit_sha,
        base_commit=row.base_commit,
        cancel_requested=row.cancel_requested_at is not None,
        last_seq=row.last_seq,
    )


@router.post("/tasks/{task_id}/runs", status_code=202, response_model=RunsAccepted, responses=WRITE)
async def create_runs(
    task_id: UUID,
    body: RunsCreate,
    principal: Developer,
    runs: Runs,
    tx: Tx,
    _key: IdempotencyKey = None,
) -> RunsAccepted:
    """Send one instruction to N executors; 202 once every run and its message are committed."""
    rows = await runs.create_runs(tx, principal, task_id, body)
    return RunsAccepted(runs=[run_out(r) for r in rows])


@router.get("/tasks/{task_id}/runs", response_model=Page[RunOut], responses=LIST_OF)
async def list_runs(
    task_id: UUID, _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[RunOut]:
    """The runs of a task, newest first."""
    async with engine.connect() as conn:
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound("task", task_id)
        rows = await sql.list_runs(conn, task_id, cursor, limit)
    return Page(items=[run_out(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


@contextlib.asynccontextmanager
async def single_read(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for one SELECT, in autocommit: no BEGIN or ROLLBACK round trip.

    One statement sees one snapshot either way; the hottest read (`GET /v1/runs/{id}`)
    saves two of its round trips to PostgreSQL.
    """
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


@router.get("/runs/{run_id}", response_model=RunOut, responses=READ)
async def get_run(run_id: UUID, _: Viewer, engine: Engine) -> RunOut:
    """A run's state: status, attempt, executor, timings, summary, files changed, error."""
    async with single_read(engine) as conn:
        row = await sql.get_run(conn, run_id)
    if row is None:
        raise NotFound("run", run_id)
    return run_out(row)


@router.post("/runs/{run_id}/messages", status_code=202, response_model=RunOut, responses=WRITE)
async def follow_up(
    run_id: UUID,
    body: FollowUpCreate,
    principal: Developer,
    runs: Runs,
    tx: Tx,
    _key: IdempotencyKey = None,
) -> RunOut:
    """A follow-up instruction: the run's next turn, same branch and agent session."""
    return run_out(await runs.follow_up(tx, principal, run_id, body.content))


@router.get("/runs/{run_id}/messages", response_model=Page[MessageOut], responses=LIST_OF)
async def list_messages(
    run_id: UUID, _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[MessageOut]:
    """The conversation of a run: the task's instruction and the run's follow-ups."""
    async with engine.connect() as conn:
        run = await sql.get_run(conn, run_id)
        if run is None:
            raise NotFound("run", run_id)
        rows = await message_sql.list_messages(conn, run.task_id, run_id, cursor, limit)
    return Page(
        items=[MessageOut.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit),
    )


@router.get("/tasks/{task_id}/messages", response_model=Page[MessageOut], responses=LIST_OF)
async def list_task_messages(
    task_id: UUID, _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[MessageOut]:
    """The whole conversation of a task: instructions and every run's follow-ups."""
    async with engine.connect() as conn:
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound("task", task_id)
        rows = await message_sql.list_messages(conn, task_id, None, cursor, limit)
    return Page(
        items=[MessageOut.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit),
    )


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunOut, responses=write(404))
async def cancel_run(
    run_id: UUID,
    principal: Developer,
    runs: Runs,
    tx: Tx,
    body: CancelCreate | None = None,
    _key: IdempotencyKey = None,
) -> RunOut:
    """Cancel a run; idempotent. A running agent is stopped by its worker."""
    return run_out(await runs.cancel(tx, principal, run_id, body.reason if body else None))


@router.get(
    "/runs/{run_id}/patch",
    response_class=Response,
    responses=READ
    | {
        200: {
            "content": {"text/x-diff": {"schema": {"type": "string"}}},
            "description": "The run's diff against its base branch",
        }
    },
)
async def get_patch(run_id: UUID, _: Viewer, engine: Engine, artifacts: Artifacts) -> Response:
    """The run's diff (`text/x-diff`), once a turn has finished."""
    async with engine.connect() as conn:
        run = await sql.get_run(conn, run_id)
    if run is None:
        raise NotFound("run", run_id)
    if not run.patch_uri:
        raise NotFound("patch", run_id, detail=f"run {run_id} has no patch yet", code="no-patch")
    try:
        patch = await artifacts.get(run.patch_uri)
    except ArtifactNotFound as exc:
        raise NotFound(
            "patch", run_id, detail="the patch artifact is gone", code="no-patch"
        ) from exc
    return Response(patch, media_type="text/x-diff")


@router.get("/runs/{run_id}/events", response_model=list[RunEventV1], responses=READ)
async def list_events(
    run_id: UUID,
    _: Viewer,
    engine: Engine,
    after: int = Query(default=0, ge=0, le=2**62),
    limit: int = Query(default=500, ge=1, le=1000),
) -> list[RunEventV1]:
    """The run's event log after `seq` = `after`, oldest first (polling fallback to SSE)."""
    async with engine.connect() as conn:
        if await sql.get_run(conn, run_id) is None:
            raise NotFound("run", run_id)
        return await read_events(conn, run_id, after, limit)
