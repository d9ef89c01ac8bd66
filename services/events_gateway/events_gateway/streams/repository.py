"""SQL of the streams room: what a stream reads of runs and tasks (the gateway writes nothing).

The store's reads serve as they are (`dursor_store.run_reads`, `dursor_store.eventlog`).
"""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import RunStatus
from dursor_kit.db.clauses import one_of
from dursor_kit.db.rows import TableRow, fetch_all, fetch_optional
from dursor_store.schema import runs, tasks


class RunHead(TableRow):
    """A run and the sequence number of its last event."""

    id: UUID
    last_seq: int


class RunProgress(TableRow):
    """Where a run stands: its status and the sequence number of its last event."""

    status: RunStatus
    last_seq: int


async def run_progress(conn: AsyncConnection, run_id: UUID) -> RunProgress | None:
    """The run's status and head, or None when there is no such run."""
    statement = select(runs.c.status, runs.c.last_seq).where(runs.c.id == run_id)
    return await fetch_optional(conn, statement, RunProgress)


async def heads_of(
    conn: AsyncConnection, run_ids: Collection[UUID], task_ids: Collection[UUID]
) -> list[RunHead]:
    """The heads of these runs and of every run of these tasks."""
    statement = select(runs.c.id, runs.c.last_seq).where(
        or_(one_of(runs.c.id, run_ids), one_of(runs.c.task_id, task_ids))
    )
    return await fetch_all(conn, statement, RunHead)


async def task_run_heads(conn: AsyncConnection, task_id: UUID) -> list[RunHead]:
    """The heads of every run of one task."""
    statement = select(runs.c.id, runs.c.last_seq).where(runs.c.task_id == task_id)
    return await fetch_all(conn, statement, RunHead)


async def task_run_ids(conn: AsyncConnection, task_id: UUID) -> list[UUID]:
    """Every run of one task, oldest first."""
    statement = select(runs.c.id).where(runs.c.task_id == task_id).order_by(runs.c.created_at)
    return list((await conn.scalars(statement)).all())


async def task_exists(conn: AsyncConnection, task_id: UUID) -> bool:
    """Whether a task with this id exists."""
    return await conn.scalar(select(tasks.c.id).where(tasks.c.id == task_id)) is not None
