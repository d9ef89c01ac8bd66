"""What the runs endpoints accept and answer: runs, follow-ups, cancels, messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from dursor_contracts.events import FileChange, RunStatus
from dursor_contracts.executors import ExecutorSpec
from dursor_kit.web.request_bodies import RequestBody


class RunsCreate(RequestBody):
    """One instruction for N executors: one run each."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "instruction": "Add a /healthz endpoint with a test",
                    "executors": [
                        {"type": "claude_code"},
                        {"type": "codex", "model": "gpt-5-codex"},
                    ],
                }
            ]
        },
    )

    instruction: Annotated[str, StringConstraints(min_length=1)]
    executors: list[ExecutorSpec] = Field(min_length=1)


class ExecutorOut(BaseModel):
    """The executor of a run, as requested."""

    type: str
    model: str | None
    model_profile_id: UUID | None
    options: dict[str, object]


RUN_EXAMPLE: JsonDict = {
    "id": "7c1e9a40-3b5d-4f6e-8a7b-9c0d1e2f3a4b",
    "task_id": "9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f",
    "executor": {"type": "codex", "model": "gpt-5-codex", "model_profile_id": None, "options": {}},
    "status": RunStatus.SUCCEEDED,
    "turn": 1,
    "attempt": 1,
    "max_attempts": 3,
    "branch": "dursor/7c1e9a403b5d",
    "instruction": "Add a /healthz endpoint with a test",
    "created_by": "http://127.0.0.1:8083#dev",
    "created_at": "2026-11-28T17:32:00Z",
    "started_at": "2026-11-28T17:32:01Z",
    "finished_at": "2026-11-28T17:40:12Z",
    "summary": "Added GET /healthz and a test for it",
    "files_changed": [{"path": "app.py", "change": "modified", "additions": 6, "deletions": 0}],
    "error": None,
    "commit_sha": "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
    "base_commit": "9c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
    "cancel_requested": False,
    "last_seq": 42,
}


class RunOut(BaseModel):
    """A run's state."""

    model_config = ConfigDict(json_schema_extra={"examples": [RUN_EXAMPLE]})

    id: UUID
    task_id: UUID
    executor: ExecutorOut
    status: RunStatus
    turn: int
    attempt: int
    max_attempts: int
    branch: str
    instruction: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: str | None
    files_changed: list[FileChange]
    error: str | None
    commit_sha: str | None
    # The commit every run of the submission starts from (None until one is claimed).
    base_commit: str | None
    cancel_requested: bool
    last_seq: int


class RunsAccepted(BaseModel):
    """The runs created by one request, all queued."""

    runs: list[RunOut]


class FollowUpCreate(RequestBody):
    """A follow-up instruction on a run: same session, same branch, next turn."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"content": "Also add a test for the 404 case"}]},
    )

    content: Annotated[str, StringConstraints(min_length=1)]


class CancelCreate(RequestBody):
    """Why the run is cancelled (optional)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "going nowhere"}]}
    )

    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class MessageOut(BaseModel):
    """One message of a task's or run's conversation."""

    id: UUID
    task_id: UUID
    run_id: UUID | None
    turn: int | None
    role: Literal["user", "assistant", "system"]
    content: str
    created_by: str
    created_at: datetime
