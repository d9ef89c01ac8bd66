"""Pull-request requests: the record and its `pr-requested` message commit together.

run-api only records the intent; agent-runner pushes the branch and opens or updates
the pull request on GitHub, then writes the number, URL and state back.
"""

from __future__ import annotations

from uuid import UUID

import structlog

from dursor_kit.auth.verifier import Principal
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import Conflict, NotFound
from dursor_store import pull_requests as sql
from dursor_store import run_reads as run_sql
from dursor_store.pull_requests import PullRequestRow
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
