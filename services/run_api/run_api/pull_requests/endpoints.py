"""Pull-request records: request one from a run, list a task's with their CI status, loops."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from dursor_kit.errors import NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.security import Developer, Viewer
from dursor_kit.web.transactions import Tx
from dursor_store import pull_requests as sql
from dursor_store.pull_requests import PullRequestRow
from run_api.declared import LIST_OF, READ, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit
from run_api.pull_requests.schemas import PullRequestLoopOut, PullRequestOut
from run_api.pull_requests.service import PullRequests, loop_of_run
from run_api.schemas import Page
from run_api.tasks import repository as task_sql

router = APIRouter(prefix="/v1", tags=["pull requests"])


def _pull_requests(request: Request) -> PullRequests:
    service: PullRequests = request.app.state.pull_requests
    return service


PullRequestService = Annotated[PullRequests, Depends(_pull_requests)]


def pull_request_out(row: PullRequestRow) -> PullRequestOut:
    """The public view of a pull request row."""
    return PullRequestOut.model_validate(row, from_attributes=True)


@router.post(
    "/runs/{run_id}/pull-request",
    status_code=202,
    response_model=PullRequestOut,
    responses=write(404),
)
async def request_pull_request(
    run_id: UUID,
    principal: Developer,
    service: PullRequestService,
    tx: Tx,
    _key: IdempotencyKey = None,
) -> PullRequestOut:
    """Open (or update) the pull request of the run's branch; 202 once it is queued."""
    return pull_request_out(await service.request(tx, principal, run_id))


@router.get(
    "/tasks/{task_id}/pull-requests", response_model=Page[PullRequestOut], responses=LIST_OF
)
async def list_pull_requests(
    task_id: UUID, _: Viewer, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[PullRequestOut]:
    """The pull requests of a task's runs, newest first, with state and CI status."""
    async with engine.connect() as conn:
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound("task", task_id)
        rows = await sql.list_for_task(conn, task_id, cursor, limit)
    return Page(
        items=[pull_request_out(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit)
    )


@router.get("/runs/{run_id}/pull-request/loop", response_model=PullRequestLoopOut, responses=READ)
async def pull_request_loop(run_id: UUID, _: Viewer, engine: Engine) -> PullRequestLoopOut:
    """The loop of the run's pull request: settings, CI-fix rounds, every trigger's fate."""
    async with engine.connect() as conn:
        return await loop_of_run(conn, run_id)
