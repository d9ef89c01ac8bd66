"""What verifying a turn found: the repository's verify commands run after the agent."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dursor_contracts.text import StorableText


class Verification(BaseModel):
    """One turn's verification: passed when every verify command exited 0."""

    passed: bool
    exit_code: int
    duration_seconds: float = Field(ge=0)
    # From the JUnit XML reports found in the worktree (None: no report).
    tests: int | None = None
    failures: int | None = None
    output_tail: list[StorableText] = Field(default_factory=list)
