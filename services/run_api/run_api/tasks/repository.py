"""SQL for tasks."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all, fetch_one, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import tasks


class TaskRow(TableRow):
    """A task on a repository."""

    id: UUID
    repo_id: UUID
    title: str
    base_branch: str
    auto_fix_ci: bool | None
    auto_fix_ci_max_rounds: int | None
    created_by: str
    created_at: datetime


async def insert_task(
    conn: AsyncConnection,
    repo_id: UUID,
    title: str,
    base_branch: str,
    owner: str,
    auto_fix_ci: bool | None = None,
    auto_fix_ci_max_rounds: int | None = None,
) -> TaskRow:
    """A new task row (NULL loop settings take the repository's)."""
    return await fetch_one(
        conn,
        insert(tasks)
        .values(
            id=uuid4(),
            repo_id=repo_id,
            title=title,
            base_branch=base_branch,
            created_by=owner,
            auto_fix_ci=auto_fix_ci,
            auto_fix_ci_max_rounds=auto_fix_ci_max_rounds,
        )
        .returning(tasks),
        TaskRow,
    )


async def get_task(conn: AsyncConnection, task_id: UUID) -> TaskRow | None:
    """One task."""
    return await fetch_optional(conn, select(tasks).where(tasks.c.id == task_id), TaskRow)


async def list_tasks(
    conn: AsyncConnection, repo_id: UUID | None, cursor: str | None, limit: int
) -> list[TaskRow]:
    """A page of tasks, optionally of one repository."""
    conditions = after_cursor(tasks, cursor)
    if repo_id is not None:
        conditions.append(tasks.c.repo_id == repo_id)
    query = select(tasks).where(*conditions).order_by(*newest_first(tasks)).limit(limit + 1)
    return await fetch_all(conn, query, TaskRow)
