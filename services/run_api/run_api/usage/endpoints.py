"""Usage and cost: a run's turns, and totals per task, repository and user."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from dursor_kit.errors import NotFound
from dursor_kit.web.security import Viewer
from dursor_store import run_reads as run_sql
from dursor_store import usage as sql
from run_api.declared import READ
from run_api.deps import Engine
from run_api.repos import repository as repo_sql
from run_api.tasks import repository as task_sql
from run_api.usage.schemas import RunUsageOut, ScopeUsageOut, totals_out, turn_out

router = APIRouter(prefix="/v1", tags=["usage"])
Since = Annotated[
    datetime | None, Query(description="Count only turns recorded at or after this moment")
]


@router.get("/runs/{run_id}/usage", response_model=RunUsageOut, responses=READ)
async def get_run_usage(run_id: UUID, _: Viewer, engine: Engine) -> RunUsageOut:
    """Tokens and cost of each ended turn of a run, and their total."""
    async with engine.connect() as conn:
        if await run_sql.get_run(conn, run_id) is None:
            raise NotFound("run", run_id)
        turns = await sql.run_turns(conn, run_id)
        total = await sql.totals(conn, sql.scope_filter("run", run_id))
    return RunUsageOut(run_id=run_id, turns=[turn_out(t) for t in turns], total=totals_out(total))


@router.get("/tasks/{task_id}/usage", response_model=ScopeUsageOut, responses=READ)
async def get_task_usage(
    task_id: UUID, _: Viewer, engine: Engine, since: Since = None
) -> ScopeUsageOut:
    """Tokens and cost of every run of a task."""
    async with engine.connect() as conn:
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound("task", task_id)
        total = await sql.totals(conn, sql.scope_filter("task", task_id), since=since)
    return ScopeUsageOut(scope="task", id=str(task_id), since=since, total=totals_out(total))


@router.get("/repos/{repo_id}/usage", response_model=ScopeUsageOut, responses=READ)
async def get_repo_usage(
    repo_id: UUID, _: Viewer, engine: Engine, since: Since = None
) -> ScopeUsageOut:
    """Tokens and cost of every run on a repository."""
    async with engine.connect() as conn:
        if await repo_sql.get_repo(conn, repo_id) is None:
            raise NotFound("repository", repo_id)
        total = await sql.totals(conn, sql.scope_filter("repo", repo_id), since=since)
    return ScopeUsageOut(scope="repo", id=str(repo_id), since=since, total=totals_out(total))


@router.get("/usage", response_model=ScopeUsageOut, responses=READ)
async def get_user_usage(
    principal: Viewer,
    engine: Engine,
    since: Since = None,
    user: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^[^\x00]+$",
            description="A user's owner key (issuer#subject); the caller's when left out",
        ),
    ] = None,
) -> ScopeUsageOut:
    """Tokens and cost of every run a user started (the caller's unless `user` is given)."""
    owner = user or principal.owner_key
    async with engine.connect() as conn:
        total = await sql.totals(conn, sql.scope_filter("user", owner), since=since)
    return ScopeUsageOut(scope="user", id=owner, since=since, total=totals_out(total))
