"""Reads of the runs table: one run, a task's page, the counts the limits check, their locks.

Nothing here writes a run; `dursor_store.runs` does.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def count_active_runs(conn: AsyncConnection, owner: str) -> int:
    """Runs of `owner` that are queued or running."""
    count = await conn.scalar(
        select(func.count())
        .select_from(runs)
        .where(runs.c.created_by == owner, runs.c.status.in_(ACTIVE))
    )
    return int(count or 0)


async def count_active_task_runs(conn: AsyncConnection, task_id: UUID) -> int:
    """Runs of a task that are queued or running."""
    count = await conn.scalar(
        select(func.count())
        .select_from(runs)
        .where(runs.c.task_id == task_id, runs.c.status.in_(ACTIVE))
    )
    return int(count or 0)


async def count_queued(conn: AsyncConnection) -> int:
    """Runs waiting for a worker (the queue depth the scaling rule and alerts watch)."""
    count = await conn.scalar(
        select(func.count()).select_from(runs).where(runs.c.status == RunStatus.QUEUED)
    )
    return int(count or 0)


async def lock_owner_runs(conn: AsyncConnection, owner: str) -> None:
    """Serialise concurrent submissions of one user so the active-run limit holds."""
    await conn.execute(select(func.pg_advisory_xact_lock(OWNER_LOCK, func.hashtext(owner))))


async def lock_task_runs(conn: AsyncConnection, task_id: UUID) -> None:
    """Serialise concurrent submissions on one task so the per-task limit holds."""
    key = func.hashtext(str(task_id))
    await conn.execute(select(func.pg_advisory_xact_lock(TASK_LOCK, key)))


async def ever_succeeded(conn: AsyncConnection, run_id: UUID) -> bool:
    """True if any turn of the run succeeded (it has something to propose)."""
    succeeded = select(run_attempts.c.run_id).where(
        run_attempts.c.run_id == run_id, run_attempts.c.status == RunStatus.SUCCEEDED
    )
    current = select(runs.c.id).where(runs.c.id == run_id, runs.c.status == RunStatus.SUCCEEDED)
    return bool(await conn.scalar(select(exists(succeeded) | exists(current))))
