"""Response bodies of usage and cost (USD as numbers, kept to 1e-8)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from dursor_store.usage import TurnUsageRow, UsageTotals


class TurnUsageOut(BaseModel):
    """One turn: tokens as the agent reported them and what they cost."""

    turn: int
    attempt: int
    executor_type: str
    model: str | None
    input_tokens: int = Field(description="Every prompt token, cached ones included")
    cached_input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(description="None when the turn could not be priced")
    cost_source: Literal["reported", "price_table", "unpriced"] = Field(
        description="The agent's own figure, the operator's price table, or neither"
    )
    recorded_at: datetime


class UsageTotalsOut(BaseModel):
    """Sums over turns; `unpriced_turns` turns add tokens but no cost."""

    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_turns: int


class RunUsageOut(BaseModel):
    """A run's turns and their total."""

    run_id: UUID
    turns: list[TurnUsageOut]
    total: UsageTotalsOut


class ScopeUsageOut(BaseModel):
    """The total of a task, a repository or a user, since a moment when asked."""

    scope: Literal["task", "repo", "user"]
    id: str
    since: datetime | None
    total: UsageTotalsOut


def turn_out(row: TurnUsageRow) -> TurnUsageOut:
    """The public view of a stored turn."""
    return TurnUsageOut(
        turn=row.turn,
        attempt=row.attempt,
        executor_type=row.executor_type,
        model=row.model,
        input_tokens=row.input_tokens,
        cached_input_tokens=row.cached_input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=_usd(row.cost_usd),
        cost_source=row.cost_source,
        recorded_at=row.created_at,
    )


def totals_out(totals: UsageTotals) -> UsageTotalsOut:
    """The public view of summed turns."""
    return UsageTotalsOut(
        turns=totals.turns,
        input_tokens=totals.input_tokens,
        cached_input_tokens=totals.cached_input_tokens,
        output_tokens=totals.output_tokens,
        cost_usd=float(totals.cost_usd),
        unpriced_turns=totals.unpriced_turns,
    )


def _usd(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)
