"""SQL for repositories."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all, fetch_one, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import repo_environments, repos


class RepoRow(TableRow):
    """A registered repository."""

    id: UUID
    url: str
    default_branch: str
    auto_fix_ci: bool
    auto_fix_ci_max_rounds: int
    resolve_review_threads: bool
    created_by: str
    created_at: datetime


class LoopSettings(BaseModel):
    """How a repository's pull-request loop behaves (a task may override the CI part)."""

    model_config = ConfigDict(frozen=True)

    auto_fix_ci: bool = False
    auto_fix_ci_max_rounds: int = 3
    resolve_review_threads: bool = True


async def insert_repo(
    conn: AsyncConnection,
    url: str,
    default_branch: str,
    owner: str,
    loop: LoopSettings | None = None,
) -> RepoRow:
    """A new repository row."""
    settings = (loop or LoopSettings()).model_dump()
    return await fetch_one(
        conn,
        insert(repos)
        .values(id=uuid4(), url=url, default_branch=default_branch, created_by=owner, **settings)
        .returning(repos),
        RepoRow,
    )


async def repo_by_url(conn: AsyncConnection, url: str) -> RepoRow | None:
    """The repository registered under `url`."""
    return await fetch_optional(conn, select(repos).where(repos.c.url == url), RepoRow)


async def get_repo(conn: AsyncConnection, repo_id: UUID) -> RepoRow | None:
    """One repository."""
    return await fetch_optional(conn, select(repos).where(repos.c.id == repo_id), RepoRow)


async def list_repos(conn: AsyncConnection, cursor: str | None, limit: int) -> list[RepoRow]:
    """A page of repositories, newest first (limit + 1 rows to detect a next page)."""
    query = select(repos).where(*after_cursor(repos, cursor)).order_by(*newest_first(repos))
    return await fetch_all(conn, query.limit(limit + 1), RepoRow)


class EnvironmentRow(TableRow):
    """A repository's setup and verify commands."""

    repo_id: UUID
    setup: list[str]
    verify: list[str]
    updated_by: str
    updated_at: datetime


async def get_environment(conn: AsyncConnection, repo_id: UUID) -> EnvironmentRow | None:
    """The repository's environment, if one was set."""
    statement = select(repo_environments).where(repo_environments.c.repo_id == repo_id)
    return await fetch_optional(conn, statement, EnvironmentRow)


async def put_environment(
    conn: AsyncConnection, repo_id: UUID, setup: list[str], verify: list[str], owner: str
) -> EnvironmentRow:
    """Set (replace) the repository's environment."""
    values = {"setup": setup, "verify": verify, "updated_by": owner}
    statement = (
        pg_insert(repo_environments)
        .values(repo_id=repo_id, **values)
        .on_conflict_do_update(
            index_elements=[repo_environments.c.repo_id], set_=values | {"updated_at": func.now()}
        )
        .returning(repo_environments)
    )
    return await fetch_one(conn, statement, EnvironmentRow)
