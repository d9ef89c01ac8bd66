"""Response body of a comparison: every figure the rule looked at, per run."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from dursor_contracts.verification import Verification
from run_api.comparison.ranking import Criterion


class ComparedFigures(BaseModel):
    """What the ranking compares of a run (null: not known)."""

    succeeded: bool = Field(description="The run's last turn succeeded")
    verify_passed: bool | None = Field(description="Verification of the last turn passed")
    failing_tests: int | None = Field(description="Failing tests in the last verification")
    diff_lines: int = Field(description="Lines added plus removed by the run's patch")
    files_changed: int
    cost_usd: float | None = Field(description="Sum over turns; null if a turn is unpriced")
    duration_seconds: float | None = Field(description="Time spent running the run's turns")
    input_tokens: int
    output_tokens: int


class RankedRun(BaseModel):
    """One run in its place."""

    rank: int = Field(ge=1)
    run_id: UUID
    executor_type: str
    model: str | None
    status: str
    turns: int
    figures: ComparedFigures


class ComparisonOut(BaseModel):
    """A submission's runs, best first by `rule` (criteria in order, first difference wins)."""

    task_id: UUID
    submitted_at: datetime
    rule: list[Criterion]
    runs: list[RankedRun]


class TurnVerificationOut(Verification):
    """What verifying one turn found."""

    turn: int
    attempt: int
