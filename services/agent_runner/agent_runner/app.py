"""agent-runner: leased, cancellable execution of coding agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from agent_runner import subscriptions
from agent_runner.executors.base import Executor
from agent_runner.executors.command import CommandExecutor
from agent_runner.settings import RunnerSettings
from agent_runner.worker import start_worker
from dursor_contracts.runtime import service_runtime
from dursor_contracts.subscriptions import subscription_router
from dursor_contracts.web import create_service_app


def executors_for(settings: RunnerSettings) -> dict[str, Executor]:
    """The executors this worker can run."""
    return {"command": CommandExecutor(settings.command_templates)}


@asynccontextmanager
async def lifespan(app: FastAPI, settings: RunnerSettings) -> AsyncIterator[None]:
    """Own every client; drain running agents and release their leases at shutdown."""
    async with service_runtime(settings) as runtime:
        worker = await start_worker(runtime, settings, executors_for(settings))
        app.state.dispatcher = worker.dispatcher
        app.state.pr_jobs = worker.pr_jobs
        app.state.readiness = runtime.readiness()
        try:
            yield
        finally:
            await worker.drain(settings.drain_seconds)


def create_app(settings: RunnerSettings | None = None) -> FastAPI:
    """The agent-runner ASGI app."""
    settings = settings or RunnerSettings()
    routers = [subscriptions.router, subscriptions.cron]
    if settings.programmatic_subscriptions:
        routers.append(subscription_router(settings.app_id))
    return create_service_app(
        "dursor agent-runner",
        partial(lifespan, settings=settings),
        routers,
        description="Executes runs: claim with a lease, workspace, agent process, events.",
    )
