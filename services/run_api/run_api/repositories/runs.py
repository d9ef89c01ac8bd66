"""SQL for runs, their messages and their cancel requests."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.engine import all_rows, one, one_or_none
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import messages, run_attempts, runs


async def insert_run(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any]:
    """A new queued run."""
    return await one(conn, insert(runs).values(**values).returning(runs))


async def insert_message(
    conn: AsyncConnection,
    task_id: UUID,
    content: str,
    owner: str,
    run_id: UUID | None = None,
    turn: int | None = None,
) -> Row[Any]:
    """A user message of a task (or of one run's turn)."""
    return await one(
        conn,
        insert(messages)
        .values(
            id=uuid4(),
            task_id=task_id,
            run_id=run_id,
            turn=turn,
            role="user",
            content=content,
            created_by=owner,
        )
        .returning(messages),
    )


async def get_run(conn: AsyncConnection, run_id: UUID) -> Row[Any] | None:
    """One run."""
    return await one_or_none(conn, select(runs).where(runs.c.id == run_id))


async def list_runs(
    conn: AsyncConnection, task_id: UUID, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """A page of a task's runs, newest first."""
    query = (
        select(runs)
        .where(runs.c.task_id == task_id, *after_cursor(runs, cursor))
        .order_by(*newest_first(runs))
        .limit(limit + 1)
    )
    return await all_rows(conn, query)


ACTIVE = ("queued", "running")
# Advisory-lock namespaces (first key of pg_advisory_xact_lock(int, int)).
OWNER_LOCK, TASK_LOCK = 7301, 7302


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
        run_attempts.c.run_id == run_id, run_attempts.c.status == "succeeded"
    )
    current = select(runs.c.id).where(runs.c.id == run_id, runs.c.status == "succeeded")
    return bool(await conn.scalar(select(exists(succeeded) | exists(current))))


async def cancel_queued(conn: AsyncConnection, run_id: UUID, reason: str) -> Row[Any] | None:
    """queued -> cancelled, if it still is queued."""
    return await one_or_none(
        conn,
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == "queued")
        .values(
            status="cancelled",
            finished_at=func.now(),
            error=reason,
            cancel_requested_at=func.now(),
            cancel_reason=reason,
        )
        .returning(runs),
    )


async def request_cancel(conn: AsyncConnection, run_id: UUID, reason: str) -> Row[Any] | None:
    """Mark a running run for cancellation (first request wins); its worker stops it."""
    return await one_or_none(
        conn,
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == "running")
        .values(
            cancel_requested_at=func.coalesce(runs.c.cancel_requested_at, func.now()),
            cancel_reason=func.coalesce(runs.c.cancel_reason, reason),
        )
        .returning(runs),
    )


async def queue_next_turn(conn: AsyncConnection, run_id: UUID) -> Row[Any] | None:
    """terminal -> queued for the next turn, attempt 1."""
    return await one_or_none(
        conn,
        update(runs)
        .where(
            runs.c.id == run_id,
            runs.c.status.in_(("succeeded", "failed", "cancelled", "timed_out")),
        )
        .values(
            status="queued",
            turn=runs.c.turn + 1,
            attempt=1,
            queued_at=func.now(),
            finished_at=None,
            error=None,
            summary=None,
            cancel_requested_at=None,
            cancel_reason=None,
        )
        .returning(runs),
    )


async def list_messages(
    conn: AsyncConnection, task_id: UUID, run_id: UUID | None, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """A page of a task's (or run's) messages, newest first."""
    conditions = [messages.c.task_id == task_id, *after_cursor(messages, cursor)]
    if run_id is not None:
        conditions.append((messages.c.run_id == run_id) | messages.c.run_id.is_(None))
    query = select(messages).where(*conditions).order_by(*newest_first(messages)).limit(limit + 1)
    return await all_rows(conn, query)
