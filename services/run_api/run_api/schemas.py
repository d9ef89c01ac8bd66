"""Request and response bodies of run-api's public API (v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from dursor_contracts.events import FileChange, RunStatus
from dursor_contracts.request_bodies import RequestBody


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
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:/-]+$")
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


class ClaudeCodeOptions(RequestBody):
    """Options of the Claude Code CLI."""

    max_turns: int | None = Field(default=None, ge=1, le=500)
    allowed_tools: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        default=None, max_length=50
    )


class CodexOptions(RequestBody):
    """Options of the Codex CLI."""

    sandbox: Literal["workspace-write", "read-only"] = "workspace-write"


class GeminiOptions(RequestBody):
    """Options of the Gemini CLI."""


class LlmOptions(RequestBody):
    """Options of a direct model call."""

    max_tokens: int = Field(default=8192, ge=1, le=200_000)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)


class CommandOptions(RequestBody):
    """Options of a command-line agent: a template the operator configured."""

    template: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    ]


class ClaudeCodeExecutor(RequestBody):
    """Claude Code, headless."""

    type: Literal["claude_code"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: ClaudeCodeOptions = Field(default_factory=ClaudeCodeOptions)


class CodexExecutor(RequestBody):
    """OpenAI Codex CLI (`codex exec`)."""

    type: Literal["codex"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: CodexOptions = Field(default_factory=CodexOptions)


class GeminiExecutor(RequestBody):
    """Google Gemini CLI."""

    type: Literal["gemini"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: GeminiOptions = Field(default_factory=GeminiOptions)


class LlmExecutor(RequestBody):
    """A direct model call with a model profile's key; the runner applies the patch."""

    type: Literal["llm"]
    model: ModelName | None = None
    model_profile_id: UUID
    options: LlmOptions = Field(default_factory=LlmOptions)


class CommandExecutor(RequestBody):
    """Any command-line agent, from an operator-defined argv template."""

    type: Literal["command"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: CommandOptions


ExecutorSpec = Annotated[
    ClaudeCodeExecutor | CodexExecutor | GeminiExecutor | LlmExecutor | CommandExecutor,
    Field(discriminator="type"),
]


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
    "status": "succeeded",
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
