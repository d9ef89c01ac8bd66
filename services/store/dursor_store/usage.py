"""Turn usage (`turn_usage`): written once when a turn ends, summed for totals and budgets.

agent-runner records a row in the transaction that ends the turn; run-api reads a run's
turns and the totals of a task, a user or a repository; the runner's budget check sums a
user's month. Nothing updates or deletes a row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import ColumnElement, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.usage import TurnUsage
from dursor_kit.db.clauses import one_of
from dursor_kit.db.rows import TableRow, fetch_all, fetch_one
from dursor_store.schema import runs, tasks, turn_usage

Scope = Literal["run", "task", "user", "repo"]


class TurnUsageRow(TableRow):
    """One ended turn's usage as stored."""

    run_id: UUID
    turn: int
    attempt: int
    executor_type: str
    model: str | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    cost_source: str
    created_at: datetime


class UsageTotals(TableRow):
    """Sums over turns; `unpriced_turns` counts turns whose cost is unknown."""

    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    unpriced_turns: int


async def record_turn(
    conn: AsyncConnection,
    run_id: UUID,
    turn: int,
    attempt: int,
    usage: TurnUsage,
    reported: dict[str, Any],
) -> None:
    """Store the usage of the run's ended turn, with its task, repository and user."""
    source = (
        select(
            literal(run_id),
            literal(turn),
            literal(attempt),
            runs.c.task_id,
            tasks.c.repo_id,
            runs.c.created_by,
            runs.c.executor_type,
            literal(usage.model, turn_usage.c.model.type),
            literal(usage.input_tokens),
            literal(usage.cached_input_tokens),
            literal(usage.output_tokens),
            literal(usage.cost_usd, turn_usage.c.cost_usd.type),
            literal(usage.cost_source),
            literal(reported, turn_usage.c.reported.type),
        )
        .select_from(runs.join(tasks, tasks.c.id == runs.c.task_id))
        .where(runs.c.id == run_id)
    )
    columns = [
        "run_id",
        "turn",
        "attempt",
        "task_id",
        "repo_id",
        "created_by",
        "executor_type",
        "model",
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "cost_usd",
        "cost_source",
        "reported",
    ]
    await conn.execute(insert(turn_usage).from_select(columns, source))


async def run_turns(conn: AsyncConnection, run_id: UUID) -> list[TurnUsageRow]:
    """Every recorded turn of a run, oldest first."""
    statement = select(turn_usage).where(turn_usage.c.run_id == run_id).order_by(turn_usage.c.turn)
    return await fetch_all(conn, statement, TurnUsageRow)


async def totals(
    conn: AsyncConnection, *where: ColumnElement[bool], since: datetime | None = None
) -> UsageTotals:
    """Sums over the turns matching `where` (and recorded at or after `since`)."""
    conditions = [*where]
    if since is not None:
        conditions.append(turn_usage.c.created_at >= since)
    statement = select(
        func.count().label("turns"),
        func.coalesce(func.sum(turn_usage.c.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(turn_usage.c.cached_input_tokens), 0).label("cached_input_tokens"),
        func.coalesce(func.sum(turn_usage.c.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(turn_usage.c.cost_usd), 0).label("cost_usd"),
        func.count().filter(turn_usage.c.cost_usd.is_(None)).label("unpriced_turns"),
    ).where(*conditions)
    return await fetch_one(conn, statement, UsageTotals)


def scope_filter(scope: Scope, key: str | UUID) -> ColumnElement[bool]:
    """The turns of one run, task, user (owner key) or repository."""
    if scope == "user":
        return turn_usage.c.created_by == str(key)
    column = {"run": turn_usage.c.run_id, "task": turn_usage.c.task_id}.get(
        scope, turn_usage.c.repo_id
    )
    return column == key


async def run_totals(conn: AsyncConnection, run_ids: list[UUID]) -> dict[UUID, UsageTotals]:
    """Totals per run for several runs at once (runs without turns are left out)."""
    statement = (
        select(
            turn_usage.c.run_id,
            func.count().label("turns"),
            func.sum(turn_usage.c.input_tokens).label("input_tokens"),
            func.sum(turn_usage.c.cached_input_tokens).label("cached_input_tokens"),
            func.sum(turn_usage.c.output_tokens).label("output_tokens"),
            func.coalesce(func.sum(turn_usage.c.cost_usd), 0).label("cost_usd"),
            func.count().filter(turn_usage.c.cost_usd.is_(None)).label("unpriced_turns"),
        )
        .where(one_of(turn_usage.c.run_id, run_ids))
        .group_by(turn_usage.c.run_id)
    )
    rows = (await conn.execute(statement)).all()
    return {row.run_id: UsageTotals.model_validate(row._mapping) for row in rows}
