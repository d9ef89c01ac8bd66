"""Request and response bodies of tasks."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from dursor_kit.web.request_bodies import RequestBody
from run_api.schemas import BranchName, Title


class TaskCreate(RequestBody):
    """A task on a repository: the place where runs, messages and PRs gather."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "repo_id": "1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
                    "title": "Add a health endpoint",
                }
            ]
        },
    )

    repo_id: UUID
    title: Title
    base_branch: BranchName | None = None
    auto_fix_ci: bool | None = Field(
        default=None, description="send failed CI back to the agent (null: the repository's)"
    )
    auto_fix_ci_max_rounds: int | None = Field(
        default=None, ge=1, le=10, description="CI-fix rounds (null: the repository's)"
    )


class TaskOut(BaseModel):
    """A task."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f",
                    "repo_id": "1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
                    "title": "Add a health endpoint",
                    "base_branch": "main",
                    "auto_fix_ci": None,
                    "auto_fix_ci_max_rounds": None,
                    "created_by": "http://127.0.0.1:8083#dev",
                    "created_at": "2026-11-28T17:31:00Z",
                }
            ]
        }
    )

    id: UUID
    repo_id: UUID
    title: str
    base_branch: str
    auto_fix_ci: bool | None
    auto_fix_ci_max_rounds: int | None
    created_by: str
    created_at: datetime
