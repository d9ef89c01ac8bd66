"""`GET /v1/runs/{id}/stream`, `GET /v1/tasks/{id}/stream` and `POST /v1/streams/tickets`.

A stream is opened with a bearer token, or (browsers' EventSource, which cannot set
headers) with a single-use ticket for that stream in `?ticket=`; never a token in the URL.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from dursor_kit.auth.verifier import Principal, Role, forbidden, unauthorized
from dursor_kit.web.problems import not_found, problem_responses
from dursor_kit.web.request_bodies import RequestBody
from dursor_kit.web.security import Viewer, bearer_scheme
from dursor_store.run_reads import run_exists
from events_gateway.edge.route_table import UUID_TEXT
from events_gateway.streams.repository import run_progress, task_exists, task_run_heads
from events_gateway.streams.service import EventStream, parse_run_cursor, parse_task_cursor
from events_gateway.streams.tickets import StreamTickets

router = APIRouter(prefix="/v1", tags=["streams"])
SSE_RESPONSES = problem_responses(400, 401, 403, 404, 422, 429) | {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    204: {"description": "The run has ended and the client has seen every event"},
}
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=20_000)]
LastEventIdQuery = Annotated[str | None, Query(alias="last_event_id", max_length=20_000)]
ticket_scheme = APIKeyQuery(
    name="ticket",
    scheme_name="StreamTicket",
    description="A single-use ticket from `POST /v1/streams/tickets`, for EventSource",
    auto_error=False,
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
TicketQuery = Annotated[str | None, Security(ticket_scheme)]
STREAM_PATH = f"^/v1/(runs|tasks)/{UUID_TEXT}/stream$"


class TicketRequest(RequestBody):
    """Which stream the ticket opens."""

    path: str = Field(
        max_length=100,
        pattern=STREAM_PATH,
        examples=["/v1/runs/7c1e2a4b-0d7f-4c55-9a43-0e2f4b1d9c11/stream"],
        description="`/v1/runs/{run_id}/stream` or `/v1/tasks/{task_id}/stream`",
    )


class StreamTicketOut(BaseModel):
    """A single-use ticket: `GET <path>?ticket=<ticket>` within `expires_in` seconds."""

    ticket: str
    expires_in: int


async def _reader(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    ticket: str | None,
    path: str,
) -> Principal:
    """Who reads: the asker of a ticket for this very stream, or a Viewer's bearer token."""
    state = request.app.state
    if ticket is not None:
        tickets: StreamTickets = state.stream_tickets
        principal = await tickets.redeem(ticket, path)
        # The asker may have been disabled (or their API token revoked) since.
        if not await state.verifier.still_allowed(principal):
            raise unauthorized("the ticket's user is disabled or their token was revoked")
    elif credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("a bearer token or a stream ticket is required")
    else:
        principal = await state.verifier.verify(credentials.credentials)
    if not principal.role.allows(Role.VIEWER):
        raise forbidden(Role.VIEWER)
    await state.rate_limiter.take(principal.owner_key)
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
    credentials: Bearer = None,
    ticket: TicketQuery = None,
) -> object:
    """Live events of one run; resumes after `Last-Event-ID` and closes after a terminal event."""
    principal = await _reader(request, credentials, ticket, f"/v1/runs/{run_id}/stream")
    async with request.app.state.engine.connect() as conn:
        run = await run_progress(conn, run_id)
    if run is None:
        raise not_found("run", run_id)
    after = parse_run_cursor(last_event_id or last_event_id_query, run.last_seq)
    if run.status.is_terminal and after == run.last_seq and after > 0:
        return Response(status_code=204)
    return _stream(request, principal, run_id, {run_id: after}, task=False)


@router.get("/tasks/{task_id}/stream", response_class=Response, responses=SSE_RESPONSES)
async def task_stream(
    task_id: UUID,
    request: Request,
    last_event_id: LastEventId = None,
    last_event_id_query: LastEventIdQuery = None,
    credentials: Bearer = None,
    ticket: TicketQuery = None,
) -> object:
    """Live events of every run of a task, each tagged with its run id."""
    principal = await _reader(request, credentials, ticket, f"/v1/tasks/{task_id}/stream")
    async with request.app.state.engine.connect() as conn:
        if not await task_exists(conn, task_id):
            raise not_found("task", task_id)
        heads = {row.id: row.last_seq for row in await task_run_heads(conn, task_id)}
    cursor = parse_task_cursor(last_event_id or last_event_id_query, heads)
    return _stream(request, principal, task_id, cursor, task=True)


@router.post(
    "/streams/tickets",
    status_code=201,
    response_model=StreamTicketOut,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def create_stream_ticket(
    body: TicketRequest, request: Request, principal: Viewer
) -> StreamTicketOut:
    """A ticket that opens one stream once, within a minute (for EventSource)."""
    state = request.app.state
    await state.rate_limiter.take(principal.owner_key)
    _, kind, raw_id, _ = body.path.strip("/").split("/")
    key = UUID(raw_id)
    exists, name = (run_exists, "run") if kind == "runs" else (task_exists, "task")
    async with state.engine.connect() as conn:
        if not await exists(conn, key):
            raise not_found(name, key)
    tickets: StreamTickets = state.stream_tickets
    issued = await tickets.issue(f"/v1/{kind}/{key}/stream", principal)
    return StreamTicketOut(ticket=issued.value, expires_in=issued.expires_in)
