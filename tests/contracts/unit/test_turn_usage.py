"""Each executor's reported usage becomes one shape, priced by the agent or the price table."""

from __future__ import annotations

from decimal import Decimal

from dursor_contracts.usage import ModelPrice, this_turn, turn_usage

PRICES = {
    "gpt-5-codex": ModelPrice(
        input_per_mtok=Decimal("1.25"),
        output_per_mtok=Decimal("10"),
        cached_input_per_mtok=Decimal("0.125"),
    ),
    "gemini-2.5-pro": ModelPrice(input_per_mtok=Decimal("1.25"), output_per_mtok=Decimal("10")),
}


def test_claude_codes_own_cost_wins_and_its_cache_counts_as_input() -> None:
    reported = {
        "input_tokens": 240,
        "output_tokens": 60,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 50,
        "total_cost_usd": 0.00216,
        "num_turns": 2,
    }
    usage = turn_usage(reported, "gpt-5-codex", PRICES)  # a priced model: still its own cost

    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (1290, 1000, 60)
    assert usage.cost_usd == Decimal("0.00216000")
    assert usage.cost_source == "reported"


def test_codex_tokens_are_priced_with_its_cached_input_cheaper() -> None:
    reported = {
        "input_tokens": 2000,
        "cached_input_tokens": 1000,
        "output_tokens": 300,
        "reasoning_output_tokens": 0,
    }
    usage = turn_usage(reported, "gpt-5-codex", PRICES)

    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (2000, 1000, 300)
    # 1000 fresh * 1.25 + 1000 cached * 0.125 + 300 * 10, per million tokens.
    assert usage.cost_usd == Decimal("0.004375")
    assert usage.cost_source == "price_table"


def test_gemini_stats_use_the_input_price_for_cached_tokens_without_a_cached_price() -> None:
    reported = {"input_tokens": 360, "output_tokens": 90, "cached": 60, "total_tokens": 450}
    usage = turn_usage(reported, "gemini-2.5-pro", PRICES)

    assert usage.cached_input_tokens == 60
    assert usage.cost_usd == Decimal("0.00135")  # 360 * 1.25 + 90 * 10, per million


def test_a_model_missing_from_the_table_is_unpriced_not_guessed() -> None:
    usage = turn_usage({"input_tokens": 120, "output_tokens": 30}, "some-new-model", PRICES)

    assert (usage.input_tokens, usage.output_tokens) == (120, 30)
    assert usage.cost_usd is None
    assert usage.cost_source == "unpriced"
    assert turn_usage({"input_tokens": 1}, None, PRICES).cost_source == "unpriced"


def test_nonsense_figures_count_as_zero() -> None:
    reported = {"input_tokens": -5, "output_tokens": "many", "cached": True, "total_cost_usd": -1}
    usage = turn_usage(reported, "gpt-5-codex", PRICES)

    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (0, 0, 0)
    assert (usage.cost_usd, usage.cost_source) == (Decimal("0E-8"), "price_table")


def test_a_session_total_becomes_the_turns_own_by_subtracting_the_previous_turns_total() -> None:
    first = {"input_tokens": 265, "cached_input_tokens": 0, "output_tokens": 63}
    second = {"input_tokens": 544, "cached_input_tokens": 10, "output_tokens": 126, "x": "y"}

    assert this_turn(second, first) == {
        "input_tokens": 279,
        "cached_input_tokens": 10,
        "output_tokens": 63,
        "x": "y",
    }
    assert this_turn(first, {}) == first


def test_only_the_named_session_totals_are_subtracted() -> None:
    first = {"input_tokens": 265, "output_tokens": 63, "total_cost_usd": 0.00174}
    second = {"input_tokens": 279, "output_tokens": 66, "total_cost_usd": 0.003522}

    turn = this_turn(second, first, frozenset({"total_cost_usd"}))

    assert turn == {"input_tokens": 279, "output_tokens": 66, "total_cost_usd": 0.001782}
