"""SQL of run_attempts: one row per attempt of a turn, opened by a claim, closed by its end."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import CTE

from dursor_contracts.events import RunStatus
from dursor_store.schema import run_attempts


def start_attempt(claimed: CTE, worker: str) -> CTE:
    """The attempt `worker` claims in the `claimed` CTE (a run's row), running.

    A CTE of the claim's own statement, so opening the attempt costs no round trip.
    """
    opened = select(
        claimed.c.id,
        claimed.c.turn,
        claimed.c.attempt,
        literal(RunStatus.RUNNING.value),
        literal(worker),
        func.now(),
    ).select_from(claimed)
    columns = ["run_id", "turn", "attempt", "status", "worker", "started_at"]
    statement = insert(run_attempts).from_select(columns, opened).returning(run_attempts.c.run_id)
    return statement.cte("attempt_opened")


async def end_attempt(
    conn: AsyncConnection,
    run_id: UUID,
    turn: int,
    attempt: int,
    status: RunStatus,
    error: str | None,
    verification: dict[str, Any] | None = None,
) -> None:
    """Close a running attempt with its outcome (and what verifying its turn found)."""
    await conn.execute(
        update(run_attempts)
        .where(
            run_attempts.c.run_id == run_id,
            run_attempts.c.turn == turn,
            run_attempts.c.attempt == attempt,
            run_attempts.c.status == RunStatus.RUNNING,
        )
        .values(
            status=status,
            finished_at=func.now(),
            error=error,
            # SQL NULL when the turn was not verified (JSONB would store a JSON null).
            verification=null() if verification is None else verification,
        )
    )
