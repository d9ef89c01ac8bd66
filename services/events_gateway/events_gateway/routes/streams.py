"""`GET /v1/runs/{id}/stream` and `GET /v1/tasks/{id}/stream`."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select

from dursor_contracts.auth import Principal, Role, bearer_token, forbidden
from dursor_contracts.events import RunStatus
from dursor_contracts.problems import not_found, problem_responses
from dursor_contracts.schema import runs, tasks
from events_gateway.streams import EventStream, parse_run_cursor, parse_task_cursor

router = APIRouter(prefix="/v1", tags=["streams"])
SSE_RESPONSES = problem_responses(400, 401, 403, 404, 422) | {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    204: {"description": "The run has ended and the client has seen every event"},
}
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=20_000)]
LastEventIdQuery = Annotated[str | None, Query(alias="last_event_id", max_length=20_000)]
AccessToken = Annotated[
    str | None,
    Query(
        alias="access_token",
        max_length=20_000,
        description="For EventSource, which cannot set headers",
    ),
]


async def _viewer(request: Request, access_token: str | None) -> Principal:
    header = request.headers.get("authorization")
    token = bearer_token(header) if header or not access_token else access_token
    principal: Principal = await request.app.state.verifier.verify(token)
    if not principal.role.allows(Role.VIEWER):
        raise forbidden(Role.VIEWER)
    await request.app.state.rate_limiter.take(principal.owner_key)
    return principal


def _stream(
    request: Request, principal: Principal, key: UUID, delivered: dict[UUID, int], task: bool
) -> EventStream:
    state = request.app.state
    return EventStream(
        state.engine,
        state.hub,
        state.metrics,
        state.stream_config,
        key,
        delivered,
        task_stream=task,
        caller_allowed=partial(state.verifier.still_allowed, principal),
    )


@router.get("/runs/{run_id}/stream", response_class=Response, responses=SSE_RESPONSES)
async def run_stream(
    run_id: UUID,
    request: Request,
    last_event_id: LastEventId = None,
    last_event_id_query: LastEventIdQuery = None,
    access_token: AccessToken = None,
) -> object:
    """Live events of one run; resumes after `Last-Event-ID` and closes after a terminal event."""
    principal = await _viewer(request, access_token)
    async with request.app.state.engine.connect() as conn:
        run = (
            await conn.execute(select(runs.c.status, runs.c.last_seq).where(runs.c.id == run_id))
        ).one_or_none()
    if run is None:
        raise not_found("run", run_id)
    after = parse_run_cursor(last_event_id or last_event_id_query, run.last_seq)
    if RunStatus(run.status).is_terminal and after == run.last_seq and after > 0:
        return Response(status_code=204)
    return _stream(request, principal, run_id, {run_id: after}, task=False)


@router.get("/tasks/{task_id}/stream", response_class=Response, responses=SSE_RESPONSES)
async def task_stream(
    task_id: UUID,
    request: Request,
    last_event_id: LastEventId = None,
    last_event_id_query: LastEventIdQuery = None,
    access_token: AccessToken = None,
) -> object:
    """Live events of every run of a task, each tagged with its run id."""
    principal = await _viewer(request, access_token)
    async with request.app.state.engine.connect() as conn:
        if await conn.scalar(select(tasks.c.id).where(tasks.c.id == task_id)) is None:
            raise not_found("task", task_id)
        heads = {
            row.id: row.last_seq
            for row in await conn.execute(
                select(runs.c.id, runs.c.last_seq).where(runs.c.task_id == task_id)
            )
        }
    cursor = parse_task_cursor(last_event_id or last_event_id_query, heads)
    return _stream(request, principal, task_id, cursor, task=True)
