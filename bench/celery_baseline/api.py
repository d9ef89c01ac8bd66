"""The seed's API: insert the run as `queued`, enqueue the Celery task, and the seed's SSE stream.

Run it with `uvicorn bench.celery_baseline.api:create_app --factory`. The stream is
the seed's `stream_run_events` (section 5): SUBSCRIBE `run:{id}:events`, send the row's
current status as an `initial` frame, then relay every message until an end event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import redis.asyncio as redis
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.celery_baseline.celery_app import RUN_AGENT_TASK, make_celery
from bench.celery_baseline.schema import seed_runs
from bench.celery_baseline.settings import BaselineSettings, events_channel
from dursor_kit.db.engine import create_engine

END_TYPES = frozenset({"completed", "failed", "cancelled"})
SSE_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


class ExecutorIn(BaseModel):
    """One executor of the request (the baseline runs every one the same way)."""

    type: str
    options: dict[str, Any] = Field(default_factory=dict)


class RunsIn(BaseModel):
    """`POST /v1/tasks/{id}/runs` body, as in our API."""

    instruction: str = Field(max_length=32_000)
    executors: list[ExecutorIn] = Field(min_length=1, max_length=8)


class RunAccepted(BaseModel):
    """A queued run."""

    id: UUID
    status: str


class RunsAccepted(BaseModel):
    """The 202 answer."""

    runs: list[RunAccepted]


async def insert_runs(engine: AsyncEngine, task_id: UUID, body: RunsIn) -> list[UUID]:
    """One `queued` row per executor, committed before anything is enqueued."""
    run_ids = [uuid4() for _ in body.executors]
    async with engine.begin() as conn:
        await conn.execute(
            insert(seed_runs),
            [
                {"id": i, "task_id": task_id, "instruction": body.instruction, "status": "queued"}
                for i in run_ids
            ],
        )
    return run_ids


async def run_status(engine: AsyncEngine, run_id: UUID) -> str | None:
    """The row's current status (the seed's `get_run`)."""
    async with engine.connect() as conn:
        status: str | None = await conn.scalar(
            select(seed_runs.c.status).where(seed_runs.c.id == run_id)
        )
        return status


def sse(event: dict[str, Any]) -> str:
    """One seed-style frame: a bare `data:` line."""
    return f"data: {json.dumps(event)}\n\n"


async def relay_events(
    request: Request, engine: AsyncEngine, redis_url: str, run_id: UUID
) -> AsyncIterator[str]:
    """Subscribe, send the current status, then relay pub/sub messages until an end event."""
    client = redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(events_channel(str(run_id)))
    try:
        yield sse({"type": "initial", "status": await run_status(engine, run_id)})
        async for message in pubsub.listen():
            if await request.is_disconnected():
                break
            if message["type"] == "message":
                event = json.loads(message["data"])
                yield sse(event)
                if event.get("type") in END_TYPES:
                    break
    finally:
        await pubsub.unsubscribe(events_channel(str(run_id)))
        await client.aclose()


def create_app(settings: BaselineSettings | None = None) -> FastAPI:
    """The baseline API; its lifespan owns the engine and the Celery producer."""
    config = settings or BaselineSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(config.database_url)
        app.state.celery = make_celery(config)
        yield
        await app.state.engine.dispose()

    app = FastAPI(title="seed baseline", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    @app.post("/v1/tasks/{task_id}/runs", status_code=202, response_model=RunsAccepted)
    async def create_runs(task_id: UUID, body: RunsIn, request: Request) -> RunsAccepted:
        """Insert the runs as `queued`, then enqueue one Celery task per run."""
        run_ids = await insert_runs(request.app.state.engine, task_id, body)
        for run_id in run_ids:
            request.app.state.celery.send_task(RUN_AGENT_TASK, args=[str(run_id), body.instruction])
        return RunsAccepted(runs=[RunAccepted(id=i, status="queued") for i in run_ids])

    @app.get("/v1/runs/{run_id}/stream")
    async def stream_run_events(run_id: UUID, request: Request) -> StreamingResponse:
        """The seed's SSE endpoint."""
        return StreamingResponse(
            relay_events(request, request.app.state.engine, config.redis_url, run_id),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    return app
