"""Repositories and tasks."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from sqlalchemy.exc import IntegrityError

from dursor_kit.errors import Conflict, Invalid, NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.security import Developer, Viewer
from dursor_kit.web.transactions import Tx
from run_api.declared import LIST, READ, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit, Settings
from run_api.repo_urls import normalise_repo_url
from run_api.repositories import repos as sql
from run_api.schemas import Page, RepoCreate, RepoOut, TaskCreate, TaskOut

router = APIRouter(prefix="/v1", tags=["repositories and tasks"])


@router.post("/repos", status_code=201, response_model=RepoOut, responses=write())
async def create_repo(
    body: RepoCreate,
    principal: Developer,
    tx: Tx,
    settings: Settings,
    _key: IdempotencyKey = None,
) -> RepoOut:
    """Register a repository (HTTPS on an allowed host; file:// in local mode)."""
    url = normalise_repo_url(body.url, settings)
    try:
        row = await sql.insert_repo(tx.conn, url, body.default_branch, principal.owner_key)
    except IntegrityError as exc:  # the unit of work rolls the failed insert back
        raise Conflict(f"{url} is already registered") from exc
    return RepoOut.model_validate(row, from_attributes=True)


@router.get("/repos", response_model=Page[RepoOut], responses=LIST)
async def list_repos(
    _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[RepoOut]:
    """Registered repositories, newest first."""
    async with engine.connect() as conn:
        rows = await sql.list_repos(conn, cursor, limit)
    return Page(
        items=[RepoOut.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit),
    )


@router.get("/repos/{repo_id}", response_model=RepoOut, responses=READ)
async def get_repo(repo_id: UUID, _: Viewer, engine: Engine) -> RepoOut:
    """One repository."""
    async with engine.connect() as conn:
        row = await sql.get_repo(conn, repo_id)
    if row is None:
        raise NotFound("repository", repo_id)
    return RepoOut.model_validate(row, from_attributes=True)


@router.post("/tasks", status_code=201, response_model=TaskOut, responses=write())
async def create_task(
    body: TaskCreate, principal: Developer, tx: Tx, _key: IdempotencyKey = None
) -> TaskOut:
    """Open a task on a repository; the base branch defaults to the repository's."""
    repo = await sql.get_repo(tx.conn, body.repo_id)
    if repo is None:
        raise Invalid(
            f"repository {body.repo_id} does not exist",
            code="unknown-repository",
            field="repo_id",
        )
    row = await sql.insert_task(
        tx.conn, repo.id, body.title, body.base_branch or repo.default_branch, principal.owner_key
    )
    return TaskOut.model_validate(row, from_attributes=True)


@router.get("/tasks", response_model=Page[TaskOut], responses=LIST)
async def list_tasks(
    _: Viewer,
    engine: Engine,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
    repo_id: Annotated[UUID | None, Query()] = None,
) -> Page[TaskOut]:
    """Tasks, newest first, optionally of one repository."""
    async with engine.connect() as conn:
        rows = await sql.list_tasks(conn, repo_id, cursor, limit)
    return Page(
        items=[TaskOut.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit),
    )


@router.get("/tasks/{task_id}", response_model=TaskOut, responses=READ)
async def get_task(task_id: UUID, _: Viewer, engine: Engine) -> TaskOut:
    """One task."""
    async with engine.connect() as conn:
        row = await sql.get_task(conn, task_id)
    if row is None:
        raise NotFound("task", task_id)
    return TaskOut.model_validate(row, from_attributes=True)
