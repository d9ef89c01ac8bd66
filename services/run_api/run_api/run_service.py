"""Where intent becomes durable: runs, follow-ups and cancels, each with its outbox message.

Every change and the messages announcing it commit in one transaction; the relay is
told after the commit, so a 202 always means the run exists and will be published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_contracts.events import (
    EndedData,
    EventType,
    RunCancelRequestedV1,
    RunRequestedV1,
    RunStatus,
    StatusData,
)
from dursor_contracts.executors import CommandExecutor, ExecutorSpec
from dursor_contracts.topics import RUN_CANCEL_REQUESTED, RUN_REQUESTED
from dursor_kit.auth.verifier import Principal
from dursor_kit.web.problems import ProblemError, bad_request, conflict, not_found
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.outbox import OutboxRelay, enqueue
from dursor_store.schema import model_profiles
from run_api.repositories import repos as repo_sql
from run_api.repositories import runs as run_sql
from run_api.schemas import RunsCreate
from run_api.settings import RunApiSettings
from run_api.transactions import transaction

log = structlog.get_logger(__name__)


def branch_for(run_id: UUID) -> str:
    """The branch a run works on: `dursor/<run-id-prefix>`."""
    return f"dursor/{run_id.hex[:12]}"


class RunService:
    """Creates, continues and cancels runs."""

    def __init__(self, engine: AsyncEngine, relay: OutboxRelay, settings: RunApiSettings) -> None:
        self._engine = engine
        self._relay = relay
        self._settings = settings

    async def create_runs(
        self, principal: Principal, task_id: UUID, body: RunsCreate
    ) -> list[Row[Any]]:
        """One queued run per executor, with its `run-requested` message, all or nothing."""
        self._check_request(body)
        async with transaction(self._engine) as conn:
            task = await repo_sql.get_task(conn, task_id)
            if task is None:
                raise not_found("task", task_id)
            await self._check_model_profiles(conn, body.executors)
            await self._check_capacity(conn, principal, task_id, len(body.executors))
            await run_sql.insert_message(conn, task_id, body.instruction, principal.owner_key)
            created = [
                await self._queue_new_run(conn, principal, task_id, body.instruction, e)
                for e in body.executors
            ]
        self._relay.notify()
        log.info("runs accepted", task_id=str(task_id), run_ids=[str(r.id) for r in created])
        return created

    def _check_request(self, body: RunsCreate) -> None:
        limit = self._settings.max_instruction_chars
        if len(body.instruction) > limit:
            raise bad_request(
                "instruction-too-long",
                f"the instruction is limited to {limit} characters",
                "instruction",
            )
        if len(body.executors) > self._settings.max_executors_per_request:
            raise bad_request(
                "too-many-executors",
                f"at most {self._settings.max_executors_per_request} executors per request",
                "executors",
            )
        for index, executor in enumerate(body.executors):
            if isinstance(executor, CommandExecutor) and (
                executor.options.template not in self._settings.command_templates
            ):
                raise bad_request(
                    "unknown-command-template",
                    f"no command template named {executor.options.template!r}",
                    f"executors.{index}.options.template",
                )

    async def _check_model_profiles(
        self, conn: AsyncConnection, executors: Sequence[ExecutorSpec]
    ) -> None:
        wanted = {e.model_profile_id for e in executors if e.model_profile_id is not None}
        if not wanted:
            return
        found = set(
            (
                await conn.execute(
                    select(model_profiles.c.id).where(
                        model_profiles.c.id.in_(wanted), model_profiles.c.deleted_at.is_(None)
                    )
                )
            ).scalars()
        )
        if missing := wanted - found:
            raise bad_request(
                "unknown-model-profile",
                f"model profile {sorted(map(str, missing))[0]} does not exist",
                "executors.model_profile_id",
            )

    async def _check_capacity(
        self, conn: AsyncConnection, principal: Principal, task_id: UUID, new: int
    ) -> None:
        """429 unless `new` more active runs fit the caller's and the task's limits."""
        # Always owner first, then task: one lock order, so no deadlock between users.
        await run_sql.lock_owner_runs(conn, principal.owner_key)
        await run_sql.lock_task_runs(conn, task_id)
        mine = await run_sql.count_active_runs(conn, principal.owner_key)
        self._refuse_over(mine + new, self._settings.max_active_runs_per_user, "your", mine)
        on_task = await run_sql.count_active_task_runs(conn, task_id)
        self._refuse_over(
            on_task + new, self._settings.max_active_runs_per_task, "this task's", on_task
        )

    def _refuse_over(self, wanted: int, limit: int, whose: str, active: int) -> None:
        if wanted > limit:
            raise ProblemError(
                429,
                "too-many-active-runs",
                "Too Many Requests",
                f"{active} of {whose} runs are active; at most {limit} may be queued or running",
                headers={"Retry-After": str(self._settings.retry_after_seconds)},
            )

    async def _queue_new_run(
        self,
        conn: AsyncConnection,
        principal: Principal,
        task_id: UUID,
        instruction: str,
        executor: ExecutorSpec,
    ) -> Row[Any]:
        run_id = uuid4()
        row = await run_sql.insert_run(
            conn,
            {
                "id": run_id,
                "task_id": task_id,
                "executor_type": executor.type,
                "model": executor.model,
                "model_profile_id": executor.model_profile_id,
                "options": executor.options.model_dump(mode="json", exclude_none=True),
                "instruction": instruction,
                "status": "queued",
                "max_attempts": self._settings.max_attempts,
                "branch": branch_for(run_id),
                "created_by": principal.owner_key,
            },
        )
        return await self._announce_queued(conn, row)

    async def _announce_queued(self, conn: AsyncConnection, run: Row[Any]) -> Row[Any]:
        """Log the `queued` event and enqueue `run-requested`; the run as it now is."""
        # run-requested first: the relay publishes in outbox order and the runner waits on it.
        await enqueue(
            conn,
            RUN_REQUESTED,
            RunRequestedV1(run_id=run.id, task_id=run.task_id, turn=run.turn, attempt=run.attempt),
        )
        status = StatusData(status=RunStatus.QUEUED, turn=run.turn, attempt=run.attempt)
        await append_events(conn, run.id, [NewEvent(EventType.STATUS, status)])
        return await self._existing(conn, run.id)  # last_seq moved with the event

    async def follow_up(self, principal: Principal, run_id: UUID, content: str) -> Row[Any]:
        """Queue the run's next turn with this instruction (same branch, same session)."""
        if len(content) > self._settings.max_instruction_chars:
            raise bad_request("instruction-too-long", "the follow-up is too long", "content")
        async with transaction(self._engine) as conn:
            run = await self._existing(conn, run_id)
            if not RunStatus(run.status).is_terminal:
                raise conflict(f"run {run_id} is {run.status}; wait for it or cancel it first")
            await self._check_capacity(conn, principal, run.task_id, 1)
            queued = await run_sql.queue_next_turn(conn, run_id)
            if queued is None:
                raise conflict(f"run {run_id} changed state; try again")
            await run_sql.insert_message(
                conn, run.task_id, content, principal.owner_key, run_id=run_id, turn=queued.turn
            )
            queued = await self._announce_queued(conn, queued)
        self._relay.notify()
        return queued

    async def cancel(self, principal: Principal, run_id: UUID, reason: str | None) -> Row[Any]:
        """Cancel a queued run at once; ask the worker of a running one. Idempotent."""
        why = reason or f"cancelled by {principal.username}"
        async with transaction(self._engine) as conn:
            run = await self._existing(conn, run_id)
            if await run_sql.cancel_queued(conn, run_id, why) is not None:
                await append_events(
                    conn, run_id, [NewEvent(EventType.CANCELLED, EndedData(reason=why))]
                )
            elif (await run_sql.request_cancel(conn, run_id, why)) is not None:
                await enqueue(
                    conn,
                    RUN_CANCEL_REQUESTED,
                    RunCancelRequestedV1(
                        run_id=run_id, reason=why, requested_by=principal.owner_key
                    ),
                )
            run = await self._existing(conn, run_id)
        self._relay.notify()
        return run

    async def _existing(self, conn: AsyncConnection, run_id: UUID) -> Row[Any]:
        run = await run_sql.get_run(conn, run_id)
        if run is None:
            raise not_found("run", run_id)
        return run
