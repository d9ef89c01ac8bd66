"""The criteria a comparison of runs can rank by (the rule itself: run_api.comparison)."""

from __future__ import annotations

from typing import Literal, get_args

Criterion = Literal[
    "run_succeeded", "verify_passed", "failing_tests", "diff_lines", "cost_usd", "duration_seconds"
]
CRITERIA: tuple[Criterion, ...] = get_args(Criterion)
# Better first on each: succeeded, verification passed, fewer failing tests, smaller diff,
# lower cost, shorter time.
DEFAULT_RULE: tuple[Criterion, ...] = CRITERIA
