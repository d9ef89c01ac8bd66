"""Request and response bodies of run-api's public API (v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from dursor_kit.web.request_bodies import RequestBody


def _valid_branch(name: str) -> str:
    """Git's ref-name rules (git check-ref-format) for a branch name."""
    if (
        name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "//" in name
        or "@{" in name
    ):
        raise ValueError("not a valid git branch name")
    return name


BranchName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._/-]+$"),
    AfterValidator(_valid_branch),
]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass `next_cursor` as `cursor` for the next one."""

    items: list[ItemT]
    next_cursor: str | None = None


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


class RepoOut(BaseModel):
    """A registered repository."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
                    "url": "https://github.com/acme/widgets",
                    "default_branch": "main",
                    "created_by": "http://127.0.0.1:8083#dev",
                    "created_at": "2026-11-28T17:30:00Z",
                }
            ]
        }
    )

    id: UUID
    url: str
    default_branch: str
    created_by: str
    created_at: datetime


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
    created_by: str
    created_at: datetime
