"""The bodies of pull-request records and their loops in run-api's public API (v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from dursor_contracts.pull_requests import LoopTriggerKind, LoopTriggerState, PullRequestState


class PullRequestOut(BaseModel):
    """A run's pull request: requested here, opened and tracked by agent-runner."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6c7d1e-8f20-4a31-b5c4-d6e7f8091a2b",
                    "run_id": "7c1e9a40-3b5d-4f6e-8a7b-9c0d1e2f3a4b",
                    "task_id": "1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
                    "state": "open",
                    "number": 42,
                    "url": "https://github.com/acme/widgets/pull/42",
                    "head_branch": "dursor/7c1e9a403b5d",
                    "base_branch": "main",
                    "head_sha": "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
                    "ci_status": "success",
                    "error": None,
                    "requested_by": "http://127.0.0.1:8083#dev",
                    "created_at": "2026-11-28T17:30:00Z",
                    "updated_at": "2026-11-28T17:31:10Z",
                }
            ]
        }
    )

    id: UUID
    run_id: UUID
    task_id: UUID
    state: Literal[
        PullRequestState.REQUESTED,
        PullRequestState.OPEN,
        PullRequestState.CLOSED,
        PullRequestState.MERGED,
        PullRequestState.FAILED,
    ]
    number: int | None
    url: str | None
    head_branch: str
    base_branch: str
    head_sha: str | None
    ci_status: str = Field(description="unknown, pending, success or failure")
    error: str | None
    requested_by: str
    created_at: datetime
    updated_at: datetime


LoopState = Literal["idle", "waiting", "working", "stopped"]


class LoopTriggerOut(BaseModel):
    """One trigger of a pull request's loop and what came of it."""

    kind: LoopTriggerKind
    state: LoopTriggerState
    trigger: str = Field(description="what made it unique: ci:<sha>, review:<id>, comment:<id>")
    source: str
    author: str
    head_sha: str | None
    round: int | None = Field(description="the CI-fix round it was sent as")
    turn: int | None = Field(description="the run's turn that carried it")
    sent: str | None = Field(description="what was sent to the agent")
    threads: list[str] = Field(description="review threads it answered (GraphQL node ids)")
    outcome: str | None
    created_at: datetime
    updated_at: datetime


class PullRequestLoopOut(BaseModel):
    """Where a pull request's loop stands: its settings, its rounds, its triggers."""

    pull_request_id: UUID
    run_id: UUID
    number: int | None
    state: LoopState
    auto_fix_ci: bool
    auto_fix_ci_max_rounds: int
    ci_fix_rounds: int
    resolve_review_threads: bool
    stopped_reason: str | None
    triggers: list[LoopTriggerOut]
