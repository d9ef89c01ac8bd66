"""Pull-request requests: the record and its `pr-requested` message commit together.

run-api only records the intent; agent-runner pushes the branch and opens or updates
the pull request on GitHub, then writes the number, URL and state back.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.events import PrRequestedV1
from dursor_contracts.topics import PR_REQUESTED
from dursor_kit.auth.verifier import Principal
from dursor_kit.web.problems import conflict, not_found
from dursor_store.outbox import OutboxRelay, enqueue
from run_api.repositories import pull_requests as sql
from run_api.repositories import repos as repo_sql
from run_api.repositories import runs as run_sql
from run_api.transactions import transaction

log = structlog.get_logger(__name__)


class PullRequests:
    """Requests (and re-requests) the pull request of a run."""

    def __init__(self, engine: AsyncEngine, relay: OutboxRelay) -> None:
        self._engine = engine
        self._relay = relay

    async def request(self, principal: Principal, run_id: UUID) -> Row[Any]:
        """Record the request as `requested` and enqueue `pr-requested`; 409 if impossible."""
        async with transaction(self._engine) as conn:
            run = await run_sql.get_run(conn, run_id)
            if run is None:
                raise not_found("run", run_id)
            if not await run_sql.ever_succeeded(conn, run_id):
                raise conflict(f"run {run_id} has no successful turn to open a pull request from")
            task = await repo_sql.get_task(conn, run.task_id)
            if task is None:  # the foreign key makes this impossible; keep mypy and readers sure
                raise not_found("task", run.task_id)
            record = await sql.request(conn, run, task.base_branch, principal.owner_key)
            if record is None:
                raise conflict(f"the pull request of run {run_id} is already merged")
            message = PrRequestedV1(
                run_id=run_id, pull_request_id=record.id, requested_by=principal.owner_key
            )
            await enqueue(conn, PR_REQUESTED, message)
        self._relay.notify()
        log.info("pull request requested", run_id=str(run_id), pull_request_id=str(record.id))
        return record
