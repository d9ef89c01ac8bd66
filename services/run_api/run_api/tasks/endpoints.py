"""Tasks: open one on a repository, list, read."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from dursor_kit.errors import NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.security import Developer, Viewer
from dursor_kit.web.transactions import Tx
from run_api.declared import LIST, READ, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit
from run_api.schemas import Page
from run_api.tasks import repository as sql
from run_api.tasks.schemas import TaskCreate, TaskOut
from run_api.tasks.service import open_task

router = APIRouter(prefix="/v1", tags=["repositories and tasks"])


@router.post("/tasks", status_code=201, response_model=TaskOut, responses=write())
async def create_task(
    body: TaskCreate, principal: Developer, tx: Tx, _key: IdempotencyKey = None
) -> TaskOut:
    """Open a task on a repository; the base branch defaults to the repository's."""
    row = await open_task(tx, principal, body)
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
