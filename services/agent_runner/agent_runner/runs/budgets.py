"""Spending caps: a run's own and its user's month, checked before and during each turn.

Caps come from the worker's settings (`budget_run_usd`, `budget_user_month_usd` and
per-user `user_month_budgets_usd`) and from the run's options (`budget_usd`); the lowest
run cap wins. Before a turn starts, what the run (or the user this calendar month, UTC)
already spent must be under its cap. While the agent works, every usage figure its stream
shows is priced (its own cost, else the price table) and the agent is stopped the moment
the total passes a cap. Agents that report usage only when their turn ends (Codex, Gemini
CLI) are checked when the next turn starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dursor_contracts.executors import BudgetedOptions
from dursor_contracts.usage import BudgetExceeded, ModelPrice, turn_usage
from dursor_kit.db.unit_of_work import Transactions
from dursor_store import usage as usage_sql
from dursor_store.run_lifecycle import ClaimedRun


@dataclass(frozen=True)
class BudgetCaps:
    """The worker's caps in USD (None: no cap)."""

    run_usd: Decimal | None = None
    user_month_usd: Decimal | None = None
    # owner key (issuer#subject) -> that user's monthly cap, instead of `user_month_usd`.
    user_month_overrides: Mapping[str, Decimal] | None = None

    def for_run(self, run: ClaimedRun) -> tuple[Decimal | None, Decimal | None]:
        """The run's cap (the lower of the worker's and the run's own) and its user's."""
        caps = [self.run_usd]
        options = run.executor.options
        if isinstance(options, BudgetedOptions) and options.budget_usd is not None:
            caps.append(Decimal(str(options.budget_usd)))
        run_cap = min((c for c in caps if c is not None), default=None)
        month = (self.user_month_overrides or {}).get(run.created_by, self.user_month_usd)
        return run_cap, month


@dataclass(frozen=True)
class TurnBudget:
    """What one turn may still spend before its run or its user reaches a cap."""

    model: str | None
    prices: Mapping[str, ModelPrice]
    run_cap: Decimal | None
    run_spent: Decimal
    month_cap: Decimal | None
    month_spent: Decimal

    def check_start(self) -> None:
        """Refuse the turn when a cap is already reached."""
        self._check(Decimal(0), {})

    def check_live(self, reported: Mapping[str, Any]) -> None:
        """Stop the agent when the turn's usage so far takes a total past a cap."""
        cost = turn_usage(reported, self.model, self.prices).cost_usd
        if cost is not None:
            self._check(cost, reported)

    def _check(self, turn_cost: Decimal, reported: Mapping[str, Any]) -> None:
        run_total = self.run_spent + turn_cost
        if self.run_cap is not None and _reached(run_total, self.run_cap, turn_cost):
            raise BudgetExceeded(f"the run spent ${run_total} of its ${self.run_cap}", reported)
        month_total = self.month_spent + turn_cost
        if self.month_cap is not None and _reached(month_total, self.month_cap, turn_cost):
            raise BudgetExceeded(
                f"the user spent ${month_total} of a monthly ${self.month_cap}", reported
            )


def _reached(total: Decimal, cap: Decimal, turn_cost: Decimal) -> bool:
    # Before the turn a total at the cap leaves nothing to spend; during it, only passing counts.
    return total > cap or (turn_cost == 0 and total >= cap)


async def turn_budget(
    transactions: Transactions,
    run: ClaimedRun,
    caps: BudgetCaps,
    model: str | None,
    prices: Mapping[str, ModelPrice],
) -> TurnBudget | None:
    """The budget of the run's current turn; None when no cap applies to it."""
    run_cap, month_cap = caps.for_run(run)
    if run_cap is None and month_cap is None:
        return None
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    async with transactions.begin() as work:
        run_spent = await usage_sql.totals(work.conn, usage_sql.scope_filter("run", run.id))
        month_spent = await usage_sql.totals(
            work.conn, usage_sql.scope_filter("user", run.created_by), since=month_start
        )
    return TurnBudget(model, prices, run_cap, run_spent.cost_usd, month_cap, month_spent.cost_usd)
