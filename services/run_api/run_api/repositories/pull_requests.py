"""SQL for pull-request records: one per run, requested here, opened by agent-runner."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.engine import all_rows, one_or_none
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import pull_requests


async def get_for_run(conn: AsyncConnection, run_id: UUID) -> Row[Any] | None:
    """The run's pull request record, if it has one."""
    return await one_or_none(conn, select(pull_requests).where(pull_requests.c.run_id == run_id))


async def request(
    conn: AsyncConnection, run: Row[Any], base_branch: str, requested_by: str
) -> Row[Any] | None:
    """Create the run's record as `requested`, or re-request it unless it is merged."""
    values = {
        "id": uuid4(),
        "run_id": run.id,
        "task_id": run.task_id,
        "state": "requested",
        "head_branch": run.branch,
        "base_branch": base_branch,
        "requested_by": requested_by,
    }
    statement = insert(pull_requests).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[pull_requests.c.run_id],
        set_={
            "state": "requested",
            "error": None,
            "requested_by": requested_by,
            "updated_at": func.now(),
        },
        where=pull_requests.c.state != "merged",
    )
    return await one_or_none(conn, statement.returning(pull_requests))


async def list_for_task(
    conn: AsyncConnection, task_id: UUID, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """A page of a task's pull request records, newest first."""
    query = (
        select(pull_requests)
        .where(pull_requests.c.task_id == task_id, *after_cursor(pull_requests, cursor))
        .order_by(*newest_first(pull_requests))
        .limit(limit + 1)
    )
    return await all_rows(conn, query)
