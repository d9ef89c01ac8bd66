"""SQL of run_attempts: one row per attempt of a turn, opened by a claim, closed by its end."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, null, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import RunStatus
from dursor_store.schema import run_attempts


async def start_attempt(
    conn: AsyncConnection, run_id: UUID, turn: int, attempt: int, worker: str
) -> None:
    """The attempt `worker` just claimed, running."""
    await conn.execute(
        insert(run_attempts).values(
            run_id=run_id,
            turn=turn,
            attempt=attempt,
            status=RunStatus.RUNNING,
            worker=worker,
            started_at=func.now(),
        )
    )


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
