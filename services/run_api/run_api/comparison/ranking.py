"""The ranking rule: criteria compared in order, the first that differs decides.

The default rule, each criterion better first:

1. `run_succeeded`: a run whose last turn succeeded before one that did not;
2. `verify_passed`: verification passed, then not run (unknown), then failed;
3. `failing_tests`: fewer failing tests (unknown last);
4. `diff_lines`: a smaller diff, lines added plus removed;
5. `cost_usd`: lower cost (a run with an unpriced turn last);
6. `duration_seconds`: less time spent running its turns.

Runs equal on every criterion keep the order they were created in. The operator sets
another rule with `DURSOR_COMPARISON_RULE` (a JSON list of these names); a request may
pass its own with `?rule=cost_usd,duration_seconds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dursor_contracts.comparison import CRITERIA, DEFAULT_RULE, Criterion

__all__ = ["CRITERIA", "DEFAULT_RULE", "Criterion", "RunFigures", "rank", "sort_key"]
UNKNOWN_LAST = float("inf")


@dataclass(frozen=True)
class RunFigures:
    """What is compared of one run (None: not known)."""

    succeeded: bool
    verify_passed: bool | None
    failing_tests: int | None
    diff_lines: int
    cost_usd: float | None
    duration_seconds: float | None


def sort_key(figures: RunFigures, rule: Sequence[Criterion]) -> tuple[float, ...]:
    """Smaller is better, criterion by criterion."""
    return tuple(_score(figures, criterion) for criterion in rule)


def rank(figures: Sequence[RunFigures], rule: Sequence[Criterion]) -> list[int]:
    """Indexes of `figures`, best first (stable: ties keep their order)."""
    return sorted(range(len(figures)), key=lambda i: sort_key(figures[i], rule))


def _score(figures: RunFigures, criterion: Criterion) -> float:
    if criterion == "run_succeeded":
        return 0.0 if figures.succeeded else 1.0
    if criterion == "verify_passed":
        return {True: 0.0, None: 1.0, False: 2.0}[figures.verify_passed]
    value = getattr(figures, criterion)
    return UNKNOWN_LAST if value is None else float(value)
