"""Reads of the runs table: one run, a task's page, the counts the limits check, their locks.

Nothing here writes a run; `dursor_store.runs` does.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from dursor_contracts.events import RunStatus
from dursor_kit.db.rows import fetch_all, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.run_rows import RunRow
from dursor_store.schema import run_attempts, runs

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# Advisory-lock namespaces (first key of pg_advisory_xact_lock(int, int)).
OWNER_LOCK, TASK_LOCK = 7301, 7302


async def get_run(conn: AsyncConnection, run_id: UUID) -> RunRow | None:
    """One run."""
    return await fetch_optional(conn, select(runs).where(runs.c.id == run_id), RunRow)


async def run_exists(conn: AsyncConnection, run_id: UUID) -> bool:
    """True when a run with this id exists."""
    return await conn.scalar(select(runs.c.id).where(runs.c.id == run_id)) is not None


async def list_runs(
    conn: AsyncConnection, task_id: UUID, cursor: str | None, limit: int
) -> list[RunRow]:
    """A page of a task's runs, newest first (limit + 1 rows to detect a next page)."""
    query = (
        select(runs)
        .where(runs.c.task_id == task_id, *after_cursor(runs, cursor))
        .order_by(*newest_first(runs))
        .limit(limit + 1)
    )
    return await fetch_all(conn, query, RunRow)


async def count_active(conn: AsyncConnection, owner: str, task_id: UUID) -> tuple[int, int]:
    """Runs of `owner`, and runs of the task, that are queued or running (one round trip)."""

    def active(*where: ColumnElement[bool]) -> ScalarSelect[int]:
        query = select(func.count()).select_from(runs).where(*where, runs.c.status.in_(ACTIVE))
        return query.scalar_subquery()

    counts = (
        await conn.execute(
            select(active(runs.c.created_by == owner), active(runs.c.task_id == task_id))
        )
    ).one()
    return int(counts[0]), int(counts[1])


async def count_queued(conn: AsyncConnection) -> int:
    """Runs waiting for a worker (the queue depth the scaling rule and alerts watch)."""
    count = await conn.scalar(
        select(func.count()).select_from(runs).where(runs.c.status == RunStatus.QUEUED)
    )
    return int(count or 0)


async def lock_submissions(conn: AsyncConnection, owner: str, task_id: UUID) -> None:
    """Serialise concurrent submissions of one user, then of one task, so the limits hold.

    One statement takes both locks, the owner's first (its select list is evaluated in
    order): one lock order for everyone, so no deadlock between users. The counts must
    run in a statement of their own after it, to see what the previous holder committed.
    """
    owner_key, task_key = func.hashtext(owner), func.hashtext(str(task_id))
    await conn.execute(
        select(
            func.pg_advisory_xact_lock(OWNER_LOCK, owner_key),
            func.pg_advisory_xact_lock(TASK_LOCK, task_key),
        )
    )


async def ever_succeeded(conn: AsyncConnection, run_id: UUID) -> bool:
    """True if any turn of the run succeeded (it has something to propose)."""
    succeeded = select(run_attempts.c.run_id).where(
        run_attempts.c.run_id == run_id, run_attempts.c.status == RunStatus.SUCCEEDED
    )
    current = select(runs.c.id).where(runs.c.id == run_id, runs.c.status == RunStatus.SUCCEEDED)
    return bool(await conn.scalar(select(exists(succeeded) | exists(current))))
