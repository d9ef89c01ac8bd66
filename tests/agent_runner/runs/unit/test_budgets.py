"""Spending caps: which cap a run gets, and when a turn is refused or stopped."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from agent_runner.runs.budgets import BudgetCaps, TurnBudget
from dursor_contracts.executors import (
    ClaudeCodeExecutor,
    ClaudeCodeOptions,
    CommandExecutor,
    CommandOptions,
)
from dursor_contracts.usage import BudgetExceeded, ModelPrice
from dursor_store.run_lifecycle import ClaimedRun

PRICES = {"m": ModelPrice(input_per_mtok=Decimal(1), output_per_mtok=Decimal(10))}


def _run(executor: ClaudeCodeExecutor | CommandExecutor, owner: str = "iss#alice") -> ClaimedRun:
    return ClaimedRun(
        id=uuid4(),
        task_id=uuid4(),
        turn=1,
        attempt=1,
        max_attempts=3,
        executor=executor,
        instruction="x",
        branch="b",
        session_id=None,
        bundle_uri=None,
        repo_url="file:///r",
        base_branch="main",
        title="t",
        created_by=owner,
    )


def _budget(run_cap: str | None, run_spent: str, month_cap: str | None = None) -> TurnBudget:
    return TurnBudget(
        "m",
        PRICES,
        None if run_cap is None else Decimal(run_cap),
        Decimal(run_spent),
        None if month_cap is None else Decimal(month_cap),
        Decimal(0),
    )


def test_the_lower_of_the_workers_and_the_runs_own_cap_wins() -> None:
    own = ClaudeCodeExecutor(type="claude_code", options=ClaudeCodeOptions(budget_usd=0.5))
    caps = BudgetCaps(run_usd=Decimal(2), user_month_usd=Decimal(50))

    assert caps.for_run(_run(own)) == (Decimal("0.5"), Decimal(50))
    assert BudgetCaps(run_usd=Decimal("0.1")).for_run(_run(own)) == (Decimal("0.1"), None)
    plain = CommandExecutor(type="command", options=CommandOptions(template="t"))
    assert BudgetCaps().for_run(_run(plain)) == (None, None)


def test_a_users_own_monthly_cap_replaces_the_default() -> None:
    plain = CommandExecutor(type="command", options=CommandOptions(template="t"))
    caps = BudgetCaps(user_month_usd=Decimal(50), user_month_overrides={"iss#bob": Decimal(5)})

    assert caps.for_run(_run(plain, "iss#bob"))[1] == Decimal(5)
    assert caps.for_run(_run(plain, "iss#alice"))[1] == Decimal(50)


def test_a_turn_starts_only_while_something_is_left() -> None:
    _budget("1", "0.99").check_start()
    with pytest.raises(BudgetExceeded, match=r"^budget_exceeded: the run spent \$1"):
        _budget("1", "1").check_start()
    with pytest.raises(BudgetExceeded, match="monthly"):
        TurnBudget("m", PRICES, None, Decimal(0), Decimal(2), Decimal(3)).check_start()


def test_the_agent_is_stopped_once_its_usage_passes_the_cap() -> None:
    budget = _budget("0.01", "0.005")
    budget.check_live({"input_tokens": 1000, "output_tokens": 100})  # $0.002: $0.007 in all
    with pytest.raises(BudgetExceeded) as stopped:
        budget.check_live({"input_tokens": 1000, "output_tokens": 500})  # $0.006: $0.011
    assert stopped.value.reported == {"input_tokens": 1000, "output_tokens": 500}


def test_usage_of_an_unpriced_model_stops_nothing() -> None:
    budget = TurnBudget("unknown", PRICES, Decimal("0.001"), Decimal(0), None, Decimal(0))
    budget.check_live({"input_tokens": 10**9, "output_tokens": 10**9})
