"""Where intent becomes durable: runs, follow-ups and cancels, each with its outbox message.

Every change and the messages announcing it go into the caller's unit of work, which
commits them together and wakes the relay after the commit, so a 202 always means the
run exists and will be published.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.executors import ExecutorSpec
from dursor_kit.auth.verifier import Principal
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import Conflict, Invalid, LimitReached, NotFound, Unprocessable
from dursor_store import run_lifecycle
from dursor_store import run_reads as run_sql
from dursor_store.run_rows import NewRun, RunRow
from run_api.model_profiles import repository as profile_sql
from run_api.runs import repository as message_sql
from run_api.runs.executor_policy import check_executor_options
from run_api.runs.schemas import RunsCreate
from run_api.settings import RunApiSettings
from run_api.tasks import repository as task_sql

log = structlog.get_logger(__name__)


def branch_for(run_id: UUID) -> str:
    """The branch a run works on: `dursor/<run-id-prefix>`."""
    return f"dursor/{run_id.hex[:12]}"


async def check_profiles_usable(
    conn: AsyncConnection, principal: Principal, wanted: set[UUID]
) -> None:
    """422 unless every profile of `wanted` exists and is the caller's own or shared."""
    if not wanted:
        return
    if missing := wanted - await profile_sql.live_profile_ids(conn, wanted):
        raise Invalid(
            f"model profile {sorted(map(str, missing))[0]} does not exist",
            code="unknown-model-profile",
            field="executors.model_profile_id",
        )
    if private := wanted - await profile_sql.usable_profile_ids(conn, wanted, principal.owner_key):
        raise Unprocessable(
            f"model profile {sorted(map(str, private))[0]} is not shared with you",
            code="model-profile-not-shared",
            field="executors.model_profile_id",
        )


class RunService:
    """Creates, continues and cancels runs."""

    def __init__(self, settings: RunApiSettings) -> None:
        self._settings = settings

    async def create_runs(
        self, work: UnitOfWork, principal: Principal, task_id: UUID, body: RunsCreate
    ) -> list[RunRow]:
        """One queued run per executor, with its `run-requested` message, all or nothing."""
        self._check_request(body)
        conn = work.conn
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound("task", task_id)
        await self._check_model_profiles(conn, principal, body.executors)
        await message_sql.insert_message(conn, task_id, body.instruction, principal.owner_key)
        created = [
            await run_lifecycle.queue_new_run(work, self._new_run(principal, task_id, body, e))
            for e in body.executors
        ]
        # Last, so one user's parallel submissions wait for each other only from here to
        # the commit (a refusal rolls the runs above back).
        await self._check_capacity(conn, principal, task_id, len(created), written=True)
        log.info("runs accepted", task_id=str(task_id), run_ids=[str(r.id) for r in created])
        return created

    def _check_request(self, body: RunsCreate) -> None:
        limit = self._settings.max_instruction_chars
        if len(body.instruction) > limit:
            raise Invalid(
                f"the instruction is limited to {limit} characters",
                code="instruction-too-long",
                field="instruction",
            )
        if len(body.executors) > self._settings.max_executors_per_request:
            raise Invalid(
                f"at most {self._settings.max_executors_per_request} executors per request",
                code="too-many-executors",
                field="executors",
            )
        check_executor_options(body.executors, self._settings)

    async def _check_model_profiles(
        self, conn: AsyncConnection, principal: Principal, executors: Sequence[ExecutorSpec]
    ) -> None:
        wanted = {e.model_profile_id for e in executors if e.model_profile_id is not None}
        await check_profiles_usable(conn, principal, wanted)

    async def _check_capacity(
        self,
        conn: AsyncConnection,
        principal: Principal,
        task_id: UUID,
        new: int,
        written: bool = False,
    ) -> None:
        """429 unless `new` more active runs (already `written` in this transaction) fit."""
        # The locks hold to the commit; the counts run after them, so they see every run
        # that the previous holder committed.
        await run_sql.lock_submissions(conn, principal.owner_key, task_id)
        counted = new if written else 0
        mine, on_task = await run_sql.count_active(conn, principal.owner_key, task_id)
        mine, on_task = mine - counted, on_task - counted
        self._refuse_over(mine + new, self._settings.max_active_runs_per_user, "your", mine)
        self._refuse_over(
            on_task + new, self._settings.max_active_runs_per_task, "this task's", on_task
        )

    def _refuse_over(self, wanted: int, limit: int, whose: str, active: int) -> None:
        if wanted > limit:
            raise LimitReached(
                f"{active} of {whose} runs are active; at most {limit} may be queued or running",
                code="too-many-active-runs",
                retry_after=self._settings.retry_after_seconds,
            )

    def _new_run(
        self, principal: Principal, task_id: UUID, body: RunsCreate, executor: ExecutorSpec
    ) -> NewRun:
        run_id = uuid4()
        return NewRun(
            id=run_id,
            task_id=task_id,
            executor_type=executor.type,
            model=executor.model,
            model_profile_id=executor.model_profile_id,
            options=executor.options.model_dump(mode="json", exclude_none=True),
            instruction=body.instruction,
            max_attempts=self._settings.max_attempts,
            branch=branch_for(run_id),
            created_by=principal.owner_key,
        )

    async def follow_up(
        self, work: UnitOfWork, principal: Principal, run_id: UUID, content: str
    ) -> RunRow:
        """Queue the run's next turn with this instruction (same branch, same session)."""
        if len(content) > self._settings.max_instruction_chars:
            raise Invalid("the follow-up is too long", code="instruction-too-long", field="content")
        run = await self._existing(work.conn, run_id)
        if not run.status.is_terminal:
            raise Conflict(f"run {run_id} is {run.status}; wait for it or cancel it first")
        if run.model_profile_id is not None:
            await check_profiles_usable(work.conn, principal, {run.model_profile_id})
        await self._check_capacity(work.conn, principal, run.task_id, 1)
        queued = await run_lifecycle.queue_next_turn(work, run_id)
        if queued is None:
            raise Conflict(f"run {run_id} changed state; try again")
        await message_sql.insert_message(
            work.conn, run.task_id, content, principal.owner_key, run_id=run_id, turn=queued.turn
        )
        return queued

    async def cancel(
        self, work: UnitOfWork, principal: Principal, run_id: UUID, reason: str | None
    ) -> RunRow:
        """Cancel a queued run at once; ask the worker of a running one. Idempotent."""
        why = reason or f"cancelled by {principal.username}"
        await self._existing(work.conn, run_id)
        await run_lifecycle.cancel(work, run_id, why, principal.owner_key)
        return await self._existing(work.conn, run_id)

    async def _existing(self, conn: AsyncConnection, run_id: UUID) -> RunRow:
        run = await run_sql.get_run(conn, run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run
