"""What a run is as stored, and the shapes the runs table's SQL takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID

from dursor_contracts.events import RunStatus
from dursor_contracts.executors import ExecutorSpec, executor_spec
from dursor_kit.db.rows import TableRow


class RunRow(TableRow):
    """A run as stored."""

    id: UUID
    task_id: UUID
    executor_type: str
    model: str | None
    model_profile_id: UUID | None
    options: dict[str, Any]
    instruction: str
    status: RunStatus
    turn: int
    attempt: int
    max_attempts: int
    branch: str
    session_id: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    cancel_requested_at: datetime | None
    cancel_reason: str | None
    created_by: str
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: str | None
    files_changed: list[dict[str, Any]]
    usage: dict[str, Any]
    error: str | None
    patch_uri: str | None
    bundle_uri: str | None
    commit_sha: str | None
    last_seq: int
    base_commit: str | None = None

    @property
    def executor(self) -> ExecutorSpec:
        """What the run executes, as the typed contract."""
        return executor_spec(self.executor_type, self.model, self.model_profile_id, self.options)


class RunRef(TableRow):
    """Which turn and attempt of which run (what a claim or the reaper works on)."""

    id: UUID
    turn: int
    attempt: int
    max_attempts: int


class HeldRun(TableRow):
    """A running attempt locked for ending it: its task and any cancel request."""

    task_id: UUID
    cancel_requested_at: datetime | None
    cancel_reason: str | None


class Renewal(TableRow):
    """The answer of a heartbeat: still held, and whether someone asked to cancel."""

    cancel_requested_at: datetime | None
    cancel_reason: str | None


@dataclass(frozen=True)
class AttemptFence:
    """Writes succeed only while this attempt of this turn holds the lease."""

    turn: int
    attempt: int
    lease_owner: str


class NewRun(TypedDict):
    """The columns of a run a caller chooses; the rest are the table's defaults."""

    id: UUID
    task_id: UUID
    executor_type: str
    model: str | None
    model_profile_id: UUID | None
    options: dict[str, Any]
    instruction: str
    max_attempts: int
    branch: str
    created_by: str


class TurnValues(TypedDict, total=False):
    """What an ending attempt records about its turn (only the keys given are written)."""

    error: str
    summary: str
    files_changed: list[dict[str, Any]]
    commit_sha: str | None
    usage: dict[str, Any]
    session_id: str | None
    patch_uri: str
    bundle_uri: str
    # Recorded on the turn's attempt (run_attempts.verification), not on the run.
    verification: dict[str, Any]
