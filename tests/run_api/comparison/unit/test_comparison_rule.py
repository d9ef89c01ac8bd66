"""The comparison rule: criteria in order, the first difference decides, unknowns last."""

from __future__ import annotations

from run_api.comparison.ranking import DEFAULT_RULE, RunFigures, rank


def _run(**changes: object) -> RunFigures:
    values: dict[str, object] = {
        "succeeded": True,
        "verify_passed": None,
        "failing_tests": None,
        "diff_lines": 10,
        "cost_usd": 1.0,
        "duration_seconds": 60.0,
    }
    return RunFigures(**(values | changes))  # type: ignore[arg-type]


def test_the_default_rule_goes_criterion_by_criterion() -> None:
    runs = [
        _run(succeeded=False, diff_lines=1, cost_usd=0.0),  # failed: last whatever its figures
        _run(verify_passed=False, diff_lines=1),  # verification failed
        _run(verify_passed=True, failing_tests=0, diff_lines=50),  # passed beats a small diff
        _run(diff_lines=5, cost_usd=3.0),  # not verified: smaller diff first
        _run(diff_lines=5, cost_usd=2.0, duration_seconds=99.0),  # same diff: cheaper first
        _run(diff_lines=5, cost_usd=2.0, duration_seconds=30.0),  # same cost: quicker first
    ]

    assert rank(runs, DEFAULT_RULE) == [2, 5, 4, 3, 1, 0]


def test_fewer_failing_tests_first_and_unknown_figures_last() -> None:
    runs = [
        _run(failing_tests=None, cost_usd=None),
        _run(failing_tests=3),
        _run(failing_tests=0, cost_usd=None),
    ]

    assert rank(runs, ["failing_tests"]) == [2, 1, 0]
    assert rank(runs, ["cost_usd", "failing_tests"]) == [1, 2, 0]


def test_ties_keep_their_order() -> None:
    assert rank([_run(), _run(), _run()], DEFAULT_RULE) == [0, 1, 2]
