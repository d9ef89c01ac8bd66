"""SQL for repositories and tasks."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.pagination import after_cursor, newest_first
from dursor_contracts.schema import repos, tasks


async def insert_repo(conn: AsyncConnection, url: str, default_branch: str, owner: str) -> Row[Any]:
    """A new repository row."""
    return (
        await conn.execute(
            insert(repos)
            .values(id=uuid4(), url=url, default_branch=default_branch, created_by=owner)
            .returning(repos)
        )
    ).one()


async def repo_by_url(conn: AsyncConnection, url: str) -> Row[Any] | None:
    """The repository registered under `url`."""
    return (await conn.execute(select(repos).where(repos.c.url == url))).one_or_none()


async def get_repo(conn: AsyncConnection, repo_id: UUID) -> Row[Any] | None:
    """One repository."""
    return (await conn.execute(select(repos).where(repos.c.id == repo_id))).one_or_none()


async def list_repos(conn: AsyncConnection, cursor: str | None, limit: int) -> list[Row[Any]]:
    """A page of repositories, newest first (limit + 1 rows to detect a next page)."""
    query = select(repos).where(*after_cursor(repos, cursor)).order_by(*newest_first(repos))
    return list((await conn.execute(query.limit(limit + 1))).all())


async def insert_task(
    conn: AsyncConnection, repo_id: UUID, title: str, base_branch: str, owner: str
) -> Row[Any]:
    """A new task row."""
    return (
        await conn.execute(
            insert(tasks)
            .values(
                id=uuid4(), repo_id=repo_id, title=title, base_branch=base_branch, created_by=owner
            )
            .returning(tasks)
        )
    ).one()


async def get_task(conn: AsyncConnection, task_id: UUID) -> Row[Any] | None:
    """One task."""
    return (await conn.execute(select(tasks).where(tasks.c.id == task_id))).one_or_none()


async def list_tasks(
    conn: AsyncConnection, repo_id: UUID | None, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """A page of tasks, optionally of one repository."""
    conditions = after_cursor(tasks, cursor)
    if repo_id is not None:
        conditions.append(tasks.c.repo_id == repo_id)
    query = select(tasks).where(*conditions).order_by(*newest_first(tasks)).limit(limit + 1)
    return list((await conn.execute(query)).all())
