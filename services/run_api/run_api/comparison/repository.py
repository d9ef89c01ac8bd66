"""SQL of the comparison: a submission's runs with their diff size, time and cost."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all
from dursor_store.schema import run_attempts, runs, turn_usage


class ComparedRun(TableRow):
    """One run of a submission with the figures the ranking compares."""

    id: UUID
    executor_type: str
    model: str | None
    status: str
    turn: int
    created_at: datetime
    files_changed: list[dict[str, Any]]
    duration_seconds: float | None
    cost_usd: Decimal | None
    unpriced_turns: int
    input_tokens: int
    output_tokens: int
    verification: dict[str, Any] | None


class VerificationRow(TableRow):
    """What verifying one turn found."""

    turn: int
    attempt: int
    verification: dict[str, Any]


async def run_verifications(conn: AsyncConnection, run_id: UUID) -> list[VerificationRow]:
    """Every verified turn of a run, oldest first."""
    statement = (
        select(run_attempts.c.turn, run_attempts.c.attempt, run_attempts.c.verification)
        .where(run_attempts.c.run_id == run_id, run_attempts.c.verification.is_not(None))
        .order_by(run_attempts.c.turn, run_attempts.c.attempt)
    )
    return await fetch_all(conn, statement, VerificationRow)


async def submission_time(
    conn: AsyncConnection, task_id: UUID, submitted_at: datetime | None
) -> datetime | None:
    """When the submission was made: the one asked for if it exists, else the latest.

    The runs of one submission are inserted in one transaction, so they share
    `created_at` (PostgreSQL's transaction time): that instant names the submission.
    """
    conditions: list[ColumnElement[bool]] = [runs.c.task_id == task_id]
    if submitted_at is not None:
        conditions.append(runs.c.created_at == submitted_at)
    found: datetime | None = await conn.scalar(
        select(func.max(runs.c.created_at)).where(*conditions)
    )
    return found


async def submission_runs(
    conn: AsyncConnection, task_id: UUID, submitted_at: datetime
) -> list[ComparedRun]:
    """The submission's runs, oldest first, with time spent and cost."""
    spent = (
        select(
            run_attempts.c.run_id,
            func.sum(
                func.extract("epoch", run_attempts.c.finished_at - run_attempts.c.started_at)
            ).label("duration_seconds"),
        )
        .group_by(run_attempts.c.run_id)
        .subquery()
    )
    cost = (
        select(
            turn_usage.c.run_id,
            func.sum(turn_usage.c.cost_usd).label("cost_usd"),
            func.count().filter(turn_usage.c.cost_usd.is_(None)).label("unpriced_turns"),
            func.sum(turn_usage.c.input_tokens).label("input_tokens"),
            func.sum(turn_usage.c.output_tokens).label("output_tokens"),
        )
        .group_by(turn_usage.c.run_id)
        .subquery()
    )
    last_verification = (
        select(run_attempts.c.verification)
        .where(
            run_attempts.c.run_id == runs.c.id,
            run_attempts.c.turn == runs.c.turn,
            run_attempts.c.verification.is_not(None),
        )
        .order_by(run_attempts.c.attempt.desc())
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(
            runs.c.id,
            runs.c.executor_type,
            runs.c.model,
            runs.c.status,
            runs.c.turn,
            runs.c.created_at,
            runs.c.files_changed,
            spent.c.duration_seconds,
            cost.c.cost_usd,
            func.coalesce(cost.c.unpriced_turns, 0).label("unpriced_turns"),
            func.coalesce(cost.c.input_tokens, 0).label("input_tokens"),
            func.coalesce(cost.c.output_tokens, 0).label("output_tokens"),
            last_verification.label("verification"),
        )
        .outerjoin(spent, spent.c.run_id == runs.c.id)
        .outerjoin(cost, cost.c.run_id == runs.c.id)
        .where(runs.c.task_id == task_id, runs.c.created_at == submitted_at)
        .order_by(runs.c.id)
    )
    return await fetch_all(conn, statement, ComparedRun)
