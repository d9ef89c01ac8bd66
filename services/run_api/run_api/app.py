"""run-api: repositories, tasks, runs, messages and the outbox that never loses a run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from dursor_contracts.artifacts import artifact_store_from
from dursor_contracts.outbox import OutboxRelay
from dursor_contracts.runtime import service_runtime, token_verifier
from dursor_contracts.web import create_service_app
from run_api.routes import dead_letters, repos, runs
from run_api.run_service import RunService
from run_api.settings import RunApiSettings


@asynccontextmanager
async def lifespan(app: FastAPI, settings: RunApiSettings) -> AsyncIterator[None]:
    """Own every client; run the outbox relay for the life of the process."""
    async with service_runtime(settings) as runtime:
        relay = OutboxRelay(runtime.engine, runtime.sidecar, settings.app_id)
        runtime.background.start(relay.run(), "outbox-relay")
        artifacts = artifact_store_from(settings)
        app.state.settings = settings
        app.state.engine = runtime.engine
        app.state.artifacts = artifacts
        app.state.verifier = token_verifier(settings, runtime.http)
        app.state.run_service = RunService(runtime.engine, relay, settings)
        app.state.readiness = runtime.readiness()
        try:
            yield
        finally:
            await artifacts.close()


def create_app(settings: RunApiSettings | None = None) -> FastAPI:
    """The run-api ASGI app."""
    settings = settings or RunApiSettings()
    return create_service_app(
        "dursor run-api",
        partial(lifespan, settings=settings),
        [repos.router, runs.router, dead_letters.router],
        max_body_bytes=settings.max_body_bytes,
        description="Repositories, tasks, runs, follow-ups, cancels, patches and event pages.",
    )
