"""What one turn of a run used and cost: tokens from the agent's own stream, priced in USD.

Each executor reports usage in its CLI's own words (Claude Code's `result.usage` and
`total_cost_usd`, Codex's `turn.completed` usage, Gemini CLI's `result.stats`, the `llm`
executor's provider usage). `turn_usage` turns any of them into one shape:

- `input_tokens` counts every prompt token, cached ones included (Claude Code reports
  cache reads and writes apart from `input_tokens`: they are added here);
- `cached_input_tokens` is the part of those read from the provider's prompt cache;
- the cost is the agent's own figure when it reports one (`cost_source` "reported"),
  else the operator's price table for the turn's model ("price_table"), else none
  ("unpriced"): a model missing from the table is never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

CostSource = Literal["reported", "price_table", "unpriced"]
PER_TOKENS = Decimal(1_000_000)
CENT_FRACTION = Decimal("0.00000001")  # costs are kept to 1e-8 USD
CACHED_KEYS = ("cached_input_tokens", "cache_read_input_tokens", "cached")
# Figures an executor reports for the whole agent session, not the turn (None: all of
# them). Seen with the real CLIs: Codex's `turn.completed` usage on a resumed thread
# includes every earlier turn's tokens; Claude Code's `total_cost_usd` on a resumed
# session includes the earlier turns' cost (its `usage` is the turn's own).
SESSION_TOTALS: dict[str, frozenset[str] | None] = {
    "codex": None,
    "claude_code": frozenset({"total_cost_usd"}),
}


class BudgetExceeded(Exception):
    """A run (or its user's month) reached its spending cap: the run stops with this reason."""

    REASON = "budget_exceeded"

    def __init__(self, detail: str, reported: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{self.REASON}: {detail}")
        self.reported = dict(reported or {})


class ModelPrice(BaseModel):
    """USD per million tokens of one model; cached input at the input price when unset."""

    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cached_input_per_mtok: Decimal | None = Field(default=None, ge=0)


class TurnUsage(BaseModel):
    """One turn's tokens and cost in USD."""

    model: str | None = None
    input_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: Decimal | None = None
    cost_source: CostSource = "unpriced"


def turn_usage(
    reported: Mapping[str, Any], model: str | None, prices: Mapping[str, ModelPrice]
) -> TurnUsage:
    """Normalize an executor's reported usage and price it (see the module docstring)."""
    cached = next((_count(reported, k) for k in CACHED_KEYS if k in reported), 0)
    prompt = _count(reported, "input_tokens")
    if "cache_read_input_tokens" in reported:  # Anthropic counts cache apart from input
        prompt += cached + _count(reported, "cache_creation_input_tokens")
    usage = TurnUsage(
        model=model,
        input_tokens=prompt,
        cached_input_tokens=min(cached, prompt),
        output_tokens=_count(reported, "output_tokens"),
    )
    own = reported.get("total_cost_usd")
    if isinstance(own, int | float) and not isinstance(own, bool) and own >= 0:
        return usage.model_copy(
            update={"cost_usd": _cents(Decimal(str(own))), "cost_source": "reported"}
        )
    price = prices.get(model) if model else None
    if price is None:
        return usage
    return usage.model_copy(
        update={"cost_usd": price_of(usage, price), "cost_source": "price_table"}
    )


def this_turn(
    reported: Mapping[str, Any],
    session_before: Mapping[str, Any],
    keys: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Session totals (`keys`, None: every figure) minus the session's previous turn's."""
    turn = dict(reported)
    for key, value in reported.items():
        earlier = session_before.get(key)
        if (keys is None or key in keys) and _is_number(value) and _is_number(earlier):
            if isinstance(value, int) and isinstance(earlier, int):
                turn[key] = max(value - earlier, 0)
            else:
                turn[key] = float(max(Decimal(str(value)) - Decimal(str(earlier)), Decimal(0)))
    return turn


def price_of(usage: TurnUsage, price: ModelPrice) -> Decimal:
    """The cost of `usage` at `price`, rounded to 1e-8 USD."""
    cached_price = (
        price.input_per_mtok
        if price.cached_input_per_mtok is None
        else (price.cached_input_per_mtok)
    )
    fresh = usage.input_tokens - usage.cached_input_tokens
    total = (
        fresh * price.input_per_mtok
        + usage.cached_input_tokens * cached_price
        + usage.output_tokens * price.output_per_mtok
    ) / PER_TOKENS
    return _cents(total)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(reported: Mapping[str, Any], key: str) -> int:
    value = reported.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT_FRACTION, rounding=ROUND_HALF_EVEN)
