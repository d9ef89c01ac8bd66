"""A submission becomes a task and its runs exactly as the REST API would make them.

The submission acts as the service identity it names: a user row with a role, held to
the same rule as a person's token (Developer or higher, not disabled). Its fields go
through the same request models, rules and limits as `POST /v1/tasks` and
`POST /v1/tasks/{id}/runs`. Its CloudEvent id is taken first in the same transaction, so
a redelivery or a duplicate creates nothing; a refusal is kept as a dead letter with
its reason, for Admins to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

import structlog
from pydantic import ValidationError

from dursor_contracts.cloudevents import ReceivedEvent
from dursor_contracts.integrations import RunSubmissionV1
from dursor_contracts.topics import RUN_SUBMISSIONS
from dursor_kit.auth.verifier import ROLE_NAMES, Principal, Role
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import DomainError
from dursor_kit.web.request_bodies import unstorable_at
from run_api.dead_letters import repository as dead_letter_sql
from run_api.runs.schemas import RunsCreate
from run_api.runs.service import RunService
from run_api.submissions import repository as sql
from run_api.tasks.schemas import TaskCreate
from run_api.tasks.service import open_task

log = structlog.get_logger(__name__)


class Refused(Exception):
    """The submission is refused for good; the message says why."""


class Outcome(StrEnum):
    """What became of one submission message."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


@dataclass(frozen=True)
class Taken:
    """The outcome of one message, with the runs it created or why it was refused."""

    outcome: Outcome
    run_ids: list[UUID] = field(default_factory=list)
    reason: str | None = None


def _validation_reason(exc: ValidationError) -> str:
    """Where and what, never the offending value (it may be anything)."""
    problems = [f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors()]
    return "invalid submission: " + "; ".join(problems[:5])


class Submissions:
    """Takes `run-submissions` messages: accepted, duplicate, or refused with a reason."""

    def __init__(self, runs: RunService) -> None:
        self._runs = runs

    async def take(self, work: UnitOfWork, event: ReceivedEvent) -> Taken:
        """Handle one message inside the caller's unit of work (idempotent by event id)."""
        if not await sql.take(work.conn, event.id, event.source or "unknown"):
            return Taken(Outcome.DUPLICATE)
        try:
            async with work.conn.begin_nested():
                run_ids = await self._accept(work, event)
        except Refused as exc:
            await self._refuse(work, event, str(exc))
            return Taken(Outcome.REFUSED, reason=str(exc))
        return Taken(Outcome.ACCEPTED, run_ids=run_ids)

    async def _accept(self, work: UnitOfWork, event: ReceivedEvent) -> list[UUID]:
        data = self._data(event)
        principal = await self._principal(work, data["submitted_as"])
        try:
            task_body = TaskCreate.model_validate(
                {k: data[k] for k in ("repo_id", "title", "base_branch") if k in data}
            )
            runs_body = RunsCreate.model_validate(
                {"instruction": data["instruction"], "executors": data["executors"]}
            )
        except ValidationError as exc:
            raise Refused(_validation_reason(exc)) from exc
        try:
            task = await open_task(work, principal, task_body)
            runs = await self._runs.create_runs(work, principal, task.id, runs_body)
        except DomainError as exc:
            raise Refused(exc.detail) from exc
        await sql.record_task(work.conn, event.id, principal.username, task.id)
        return [run.id for run in runs]

    def _data(self, event: ReceivedEvent) -> dict[str, Any]:
        """The payload, held to the published contract first."""
        if not isinstance(event.data, dict):
            raise Refused("invalid submission: data must be a JSON object")
        try:
            RunSubmissionV1.model_validate(event.data)
        except ValidationError as exc:
            raise Refused(_validation_reason(exc)) from exc
        return event.data

    async def _principal(self, work: UnitOfWork, username: str) -> Principal:
        row = await sql.identity(work.conn, username)
        if row is None or row.role not in ROLE_NAMES:
            raise Refused(f"no service identity named {username!r}")
        if row.disabled:
            raise Refused(f"the service identity {username!r} is disabled")
        role = ROLE_NAMES[row.role]
        if not role.allows(Role.DEVELOPER):
            raise Refused(
                f"the service identity {username!r} has the {role.value} role; "
                "submitting runs needs developer"
            )
        return Principal(subject=row.subject, issuer=row.issuer, username=row.username, role=role)

    async def _refuse(self, work: UnitOfWork, event: ReceivedEvent, reason: str) -> None:
        payload = event.model_dump(mode="json")
        if unstorable_at(payload) is not None:
            payload = {"id": event.id, "data": None, "note": "the payload held unstorable text"}
        await dead_letter_sql.insert_dead_letter(
            work.conn, RUN_SUBMISSIONS.name, event.id, None, payload, reason
        )
        log.warning("run submission refused", event_id=event.id, reason=reason)
