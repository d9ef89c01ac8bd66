"""Versioned payloads of every pub/sub topic: the public contract other teams integrate with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dursor_contracts.text import StorableText


class ContractModel(BaseModel):
    """Base of every contract payload: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RunStatus(StrEnum):
    """Lifecycle of a run; the database enforces the legal transitions."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        """True once the run's current turn can change no further."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class EventType(StrEnum):
    """Kinds of run events, shared by the event log, the topic and the SSE stream."""

    STATUS = "status"
    LOG = "log"
    PROGRESS = "progress"
    ARTIFACT = "artifact"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        """True for the event that ends a run's turn."""
        return self in TERMINAL_EVENT_TYPES


TERMINAL_EVENT_TYPES = frozenset(
    {EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED, EventType.TIMED_OUT}
)


class FileChange(ContractModel):
    """One file touched by a run's patch."""

    path: str
    change: Literal["added", "modified", "deleted", "renamed"]
    additions: int = Field(ge=0)
    deletions: int = Field(ge=0)


class StatusData(ContractModel):
    """Data of a `status` event: the run entered a new state."""

    status: RunStatus
    turn: int = Field(ge=1)
    attempt: int = Field(ge=1)
    reason: str | None = None
    worker: str | None = None


class LogData(ContractModel):
    """Data of a `log` event: a batch of output lines."""

    stream: Literal["stdout", "stderr", "agent", "system"]
    lines: list[StorableText]


class ProgressData(ContractModel):
    """Data of a `progress` event: a human-readable step of the agent."""

    message: StorableText
    step: str | None = None


class ArtifactData(ContractModel):
    """Data of an `artifact` event: something the run stored (the patch)."""

    kind: Literal["patch", "bundle"]
    uri: str
    size_bytes: int = Field(ge=0)
    sha256: str


class CompletedData(ContractModel):
    """Data of a `completed` event: the turn succeeded."""

    summary: StorableText
    files_changed: list[FileChange]
    commit_sha: str | None = None
    branch: str | None = None


class EndedData(ContractModel):
    """Data of a `failed`, `cancelled` or `timed_out` event: why the turn ended."""

    reason: StorableText


EVENT_DATA_MODELS: dict[EventType, type[ContractModel]] = {
    EventType.STATUS: StatusData,
    EventType.LOG: LogData,
    EventType.PROGRESS: ProgressData,
    EventType.ARTIFACT: ArtifactData,
    EventType.COMPLETED: CompletedData,
    EventType.FAILED: EndedData,
    EventType.CANCELLED: EndedData,
    EventType.TIMED_OUT: EndedData,
}


class RunRequestedV1(ContractModel):
    """`run-requested`: a run's turn and attempt is queued and waits for a runner."""

    schema_version: Literal[1] = 1
    run_id: UUID
    task_id: UUID
    turn: int = Field(ge=1)
    attempt: int = Field(ge=1)


class RunCancelRequestedV1(ContractModel):
    """`run-cancel-requested`: whoever holds this run must stop its agent."""

    schema_version: Literal[1] = 1
    run_id: UUID
    reason: str
    requested_by: str


class RunEventV1(ContractModel):
    """`run-events`: one numbered event of a run, already durable in the event log."""

    schema_version: Literal[1] = 1
    run_id: UUID
    task_id: UUID
    seq: int = Field(ge=1)
    turn: int = Field(ge=1)
    attempt: int = Field(ge=1)
    type: EventType
    data: dict[str, Any]
    created_at: datetime

    @model_validator(mode="after")
    def _data_matches_type(self) -> RunEventV1:
        """Reject data that does not match the schema of its event type."""
        EVENT_DATA_MODELS[self.type].model_validate(self.data)
        return self


class PrRequestedV1(ContractModel):
    """`pr-requested`: open or update a run's pull request, or advance its feedback loop."""

    schema_version: Literal[1] = 1
    run_id: UUID
    pull_request_id: UUID
    requested_by: str
    # Added compatibly: older producers mean `publish`.
    work: Literal["publish", "loop"] = "publish"


class DeadLetterV1(ContractModel):
    """What a `<topic>-dlq` consumer records: the original CloudEvent, undelivered."""

    topic: str
    event_id: str
    data: Any
