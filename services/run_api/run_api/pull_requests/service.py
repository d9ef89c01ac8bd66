"""Pull-request requests: the record and its `pr-requested` message commit together.

run-api only records the intent; agent-runner pushes the branch and opens or updates
the pull request on GitHub, then writes the number, URL and state back.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.pull_requests import LoopTriggerState
from dursor_kit.auth.verifier import Principal
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import Conflict, NotFound
from dursor_store import pr_loop
from dursor_store import pull_requests as sql
from dursor_store import run_reads as run_sql
from dursor_store.pr_loop import LoopPullRequest, TriggerRow
from dursor_store.pull_requests import PullRequestRow
from run_api.pull_requests.schemas import LoopState, LoopTriggerOut, PullRequestLoopOut
from run_api.tasks import repository as task_sql

log = structlog.get_logger(__name__)


class PullRequests:
    """Requests (and re-requests) the pull request of a run."""

    async def request(self, work: UnitOfWork, principal: Principal, run_id: UUID) -> PullRequestRow:
        """Record the request as `requested` and enqueue `pr-requested`; 409 if impossible."""
        run = await run_sql.get_run(work.conn, run_id)
        if run is None:
            raise NotFound("run", run_id)
        if not await run_sql.ever_succeeded(work.conn, run_id):
            raise Conflict(f"run {run_id} has no successful turn to open a pull request from")
        task = await task_sql.get_task(work.conn, run.task_id)
        if task is None:  # the foreign key makes this impossible; keep mypy and readers sure
            raise NotFound("task", run.task_id)
        record = await sql.request(work, run, task.base_branch, principal.owner_key)
        if record is None:
            raise Conflict(f"the pull request of run {run_id} is already merged")
        log.info("pull request requested", run_id=str(run_id), pull_request_id=str(record.id))
        return record


def loop_state(pr: LoopPullRequest, triggers: list[TriggerRow]) -> LoopState:
    """stopped, working (a turn carries a trigger), waiting (triggers wait) or idle."""
    states = {t.state for t in triggers}
    if pr.loop_stopped is not None:
        return "stopped"
    if LoopTriggerState.SENT in states:
        return "working"
    return "waiting" if LoopTriggerState.PENDING in states else "idle"


async def loop_of_run(conn: AsyncConnection, run_id: UUID) -> PullRequestLoopOut:
    """The loop of the run's pull request; 404 if the run has none."""
    pr = await pr_loop.of_run(conn, run_id)
    if pr is None:
        raise NotFound("pull request of run", run_id)
    triggers = await pr_loop.triggers_of(conn, pr.id)
    return PullRequestLoopOut(
        pull_request_id=pr.id,
        run_id=pr.run_id,
        number=pr.number,
        state=loop_state(pr, triggers),
        auto_fix_ci=pr.auto_fix_ci,
        auto_fix_ci_max_rounds=pr.max_rounds,
        ci_fix_rounds=pr.ci_fix_rounds,
        resolve_review_threads=pr.resolve_threads,
        stopped_reason=pr.loop_stopped,
        triggers=[_trigger_out(t) for t in triggers],
    )


def _trigger_out(trigger: TriggerRow) -> LoopTriggerOut:
    return LoopTriggerOut(
        kind=trigger.kind,
        state=trigger.state,
        trigger=trigger.trigger_key,
        source=trigger.source,
        author=trigger.author,
        head_sha=trigger.head_sha,
        round=trigger.round,
        turn=trigger.turn,
        sent=trigger.sent_text,
        threads=[str(t.get("id")) for t in trigger.threads],
        outcome=trigger.outcome,
        created_at=trigger.created_at,
        updated_at=trigger.updated_at,
    )
