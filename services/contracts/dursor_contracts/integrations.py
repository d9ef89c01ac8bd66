"""Payloads of the public integration topics: what other systems may rely on.

Kept apart from the internal topics (`events.py`) so that those can change without
breaking an integrator: no log lines, no leases, no secrets, only what a run or a pull
request became, with links into the public API.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from dursor_contracts.events import ContractModel, FileChange, RunStatus
from dursor_contracts.executors import ExecutorSpec
from dursor_contracts.pull_requests import CiStatus, PullRequestState


class LifecycleStage(StrEnum):
    """Which moment of a run's turn a `run-lifecycle` message announces."""

    ACCEPTED = "accepted"
    STARTED = "started"
    FINISHED = "finished"


class WebhookEventType(StrEnum):
    """What an outgoing webhook announces (an endpoint's filter names some of these)."""

    RUN_ACCEPTED = "run.accepted"
    RUN_STARTED = "run.started"
    RUN_FINISHED = "run.finished"
    PULL_REQUEST_UPDATED = "pull_request.updated"

    @classmethod
    def of_stage(cls, stage: LifecycleStage) -> WebhookEventType:
        """The webhook event type of a run-lifecycle stage."""
        return cls(f"run.{stage.value}")


class RunLinks(ContractModel):
    """Paths of the run in the public API (relative to the gateway's base URL)."""

    run: str
    task: str
    patch: str
    events: str


def run_links(run_id: UUID, task_id: UUID) -> RunLinks:
    """The public API paths of a run."""
    return RunLinks(
        run=f"/v1/runs/{run_id}",
        task=f"/v1/tasks/{task_id}",
        patch=f"/v1/runs/{run_id}/patch",
        events=f"/v1/runs/{run_id}/events",
    )


class RunLifecycleV1(ContractModel):
    """`run-lifecycle`: a run's turn was accepted, started, or finished (with its outcome)."""

    schema_version: Literal[1] = 1
    run_id: UUID
    task_id: UUID
    stage: LifecycleStage
    # The run's event-log position of this moment: grows with every message of one run,
    # so a consumer can order them and ignore one older than what it already saw.
    sequence: int = Field(ge=1)
    turn: int = Field(ge=1)
    attempt: int = Field(ge=1)
    status: RunStatus
    executor: str
    model: str | None = None
    summary: str | None = None
    error: str | None = None
    files_changed: list[FileChange] = Field(default_factory=list)
    usage: dict[str, int | float] = Field(default_factory=dict)
    commit_sha: str | None = None
    branch: str
    links: RunLinks
    occurred_at: datetime


class PullRequestUpdatedV1(ContractModel):
    """`pull-request-updated`: a run's pull request was opened, failed, changed CI state,
    merged or closed."""

    schema_version: Literal[1] = 1
    pull_request_id: UUID
    run_id: UUID
    task_id: UUID
    state: PullRequestState
    ci_status: CiStatus
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    occurred_at: datetime


Username = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RunSubmissionV1(ContractModel):
    """`run-submissions`: a trusted integration asks for a task with one run per executor.

    It acts as the service identity `submitted_as` (a user with a role, checked like a
    person's), and is handled exactly as `POST /v1/tasks` then `POST /v1/tasks/{id}/runs`
    would be; its CloudEvent id makes it idempotent.
    """

    schema_version: Literal[1] = 1
    submitted_as: Username
    repo_id: UUID
    title: str
    base_branch: str | None = None
    instruction: str
    executors: list[ExecutorSpec] = Field(min_length=1)
