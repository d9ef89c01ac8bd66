"""agent-runner: leased, cancellable execution of coding agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from agent_runner import subscriptions
from agent_runner.attempt import AttemptContext
from agent_runner.credentials import ModelProfileCredentials
from agent_runner.dispatcher import Dispatcher
from agent_runner.executors.base import Executor
from agent_runner.executors.command import CommandExecutor
from agent_runner.leases import RunLeases
from agent_runner.reaper import reap_forever
from agent_runner.retention import clean_worktrees_forever
from agent_runner.settings import RunnerSettings
from agent_runner.workspace import Workspaces
from dursor_contracts.artifacts import artifact_store_from
from dursor_contracts.crypto import EncryptionKeyRing
from dursor_contracts.outbox import OutboxRelay
from dursor_contracts.runtime import ServiceRuntime, service_runtime
from dursor_contracts.secret_names import ENCRYPTION_KEYS
from dursor_contracts.subscriptions import subscription_router
from dursor_contracts.web import create_service_app


def executors_for(settings: RunnerSettings) -> dict[str, Executor]:
    """The executors this worker can run."""
    return {"command": CommandExecutor(settings.command_templates)}


async def _build_dispatcher(runtime: ServiceRuntime, settings: RunnerSettings) -> Dispatcher:
    relay = OutboxRelay(runtime.engine, runtime.sidecar, settings.app_id)
    runtime.background.start(relay.run(), "outbox-relay")
    ctx = AttemptContext(
        leases=RunLeases(runtime.engine, settings.worker_id, settings.lease_seconds),
        workspaces=Workspaces(Path(settings.workspaces_dir)),
        artifacts=artifact_store_from(settings),
        executors=executors_for(settings),
        limits=settings.limits(),
        notify_relay=relay.notify,
        log_batch_bytes=settings.log_batch_bytes,
        log_batch_seconds=settings.log_batch_seconds,
    )
    keyring = EncryptionKeyRing.from_json(await runtime.secret(ENCRYPTION_KEYS))
    credentials = ModelProfileCredentials(runtime.engine, keyring)
    dispatcher = Dispatcher(
        ctx, settings.max_concurrency, settings.pull_interval_seconds, credentials.for_run
    )
    runtime.background.start(dispatcher.pull_forever(), "pull-queued-runs")
    runtime.background.start(
        reap_forever(runtime.engine, settings.reaper_interval_seconds, relay.notify), "reaper"
    )
    runtime.background.start(
        clean_worktrees_forever(
            ctx.workspaces,
            lambda: dispatcher.active_run_ids,
            settings.worktree_retention_seconds,
            3600.0,
        ),
        "worktree-retention",
    )
    return dispatcher


@asynccontextmanager
async def lifespan(app: FastAPI, settings: RunnerSettings) -> AsyncIterator[None]:
    """Own every client; drain running agents and release their leases at shutdown."""
    async with service_runtime(settings) as runtime:
        dispatcher = await _build_dispatcher(runtime, settings)
        app.state.dispatcher = dispatcher
        app.state.readiness = runtime.readiness()
        try:
            yield
        finally:
            await dispatcher.drain(settings.drain_seconds)


def create_app(settings: RunnerSettings | None = None) -> FastAPI:
    """The agent-runner ASGI app."""
    settings = settings or RunnerSettings()
    routers = [subscriptions.router]
    if settings.programmatic_subscriptions:
        routers.append(subscription_router(settings.app_id))
    return create_service_app(
        "dursor agent-runner",
        partial(lifespan, settings=settings),
        routers,
        description="Executes runs: claim with a lease, workspace, agent process, events.",
    )
