"""Request and response bodies of repositories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dursor_kit.web.request_bodies import RequestBody
from run_api.schemas import BranchName


class RepoCreate(RequestBody):
    """A repository to run agents on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://github.com/acme/widgets", "default_branch": "main"}]
        },
    )

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    default_branch: BranchName = "main"
    auto_fix_ci: bool = Field(
        default=False, description="send failed CI of a run's pull request back to its agent"
    )
    auto_fix_ci_max_rounds: int = Field(
        default=3, ge=1, le=10, description="CI-fix rounds before the loop stops"
    )
    resolve_review_threads: bool = Field(
        default=True, description="resolve a review thread once the agent's answer is pushed"
    )


class RepoOut(BaseModel):
    """A registered repository."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
                    "url": "https://github.com/acme/widgets",
                    "default_branch": "main",
                    "auto_fix_ci": True,
                    "auto_fix_ci_max_rounds": 3,
                    "resolve_review_threads": True,
                    "created_by": "http://127.0.0.1:8083#dev",
                    "created_at": "2026-11-28T17:30:00Z",
                }
            ]
        }
    )

    id: UUID
    url: str
    default_branch: str
    auto_fix_ci: bool
    auto_fix_ci_max_rounds: int
    resolve_review_threads: bool
    created_by: str
    created_at: datetime


Command = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class EnvironmentPut(RequestBody):
    """A repository's environment: shell commands run in each run's jail, in order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"setup": ["npm ci"], "verify": ["npm test"]}]},
    )

    setup: list[Command] = Field(default_factory=list, max_length=20)
    verify: list[Command] = Field(default_factory=list, max_length=20)


class EnvironmentOut(BaseModel):
    """A repository's environment (empty lists when none was set)."""

    repo_id: UUID
    setup: list[str]
    verify: list[str]
    updated_by: str | None
    updated_at: datetime | None
