"""SQL for repositories and tasks."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.engine import all_rows, one, one_or_none
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import repos, tasks


async def insert_repo(conn: AsyncConnection, url: str, default_branch: str, owner: str) -> Row[Any]:
    """A new repository row."""
    return await one(
        conn,
        insert(repos)
        .values(id=uuid4(), url=url, default_branch=default_branch, created_by=owner)
        .returning(repos),
    )


async def repo_by_url(conn: AsyncConnection, url: str) -> Row[Any] | None:
    """The repository registered under `url`."""
    return await one_or_none(conn, select(repos).where(repos.c.url == url))


async def get_repo(conn: AsyncConnection, repo_id: UUID) -> Row[Any] | None:
    """One repository."""
    return await one_or_none(conn, select(repos).where(repos.c.id == repo_id))


async def list_repos(conn: AsyncConnection, cursor: str | None, limit: int) -> list[Row[Any]]:
    """A page of repositories, newest first (limit + 1 rows to detect a next page)."""
    query = select(repos).where(*after_cursor(repos, cursor)).order_by(*newest_first(repos))
    return await all_rows(conn, query.limit(limit + 1))


async def insert_task(
    conn: AsyncConnection, repo_id: UUID, title: str, base_branch: str, owner: str
) -> Row[Any]:
    """A new task row."""
    return await one(
        conn,
        insert(tasks)
        .values(id=uuid4(), repo_id=repo_id, title=title, base_branch=base_branch, created_by=owner)
        .returning(tasks),
    )


async def get_task(conn: AsyncConnection, task_id: UUID) -> Row[Any] | None:
    """One task."""
    return await one_or_none(conn, select(tasks).where(tasks.c.id == task_id))


async def list_tasks(
    conn: AsyncConnection, repo_id: UUID | None, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """A page of tasks, optionally of one repository."""
    conditions = after_cursor(tasks, cursor)
    if repo_id is not None:
        conditions.append(tasks.c.repo_id == repo_id)
    query = select(tasks).where(*conditions).order_by(*newest_first(tasks)).limit(limit + 1)
    return await all_rows(conn, query)
