"""agent-runner: leased, cancellable execution of coding agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from agent_runner.agents.executors.base import Agent
from agent_runner.agents.executors.claude_code import ClaudeCodeAgent
from agent_runner.agents.executors.cli_streams import ProviderAccess
from agent_runner.agents.executors.codex import CodexAgent
from agent_runner.agents.executors.command import CommandAgent
from agent_runner.agents.executors.gemini import GeminiAgent
from agent_runner.agents.executors.llm import LlmAgent
from agent_runner.pull_requests import endpoints as pull_request_endpoints
from agent_runner.runs import endpoints as run_endpoints
from agent_runner.settings import RunnerSettings
from agent_runner.worker import start_worker
from dursor_kit.runtime import service_runtime
from dursor_kit.web.app import create_service_app
from dursor_kit.web.subscriptions import subscription_router


def agents_for(settings: RunnerSettings) -> dict[str, Agent]:
    """The agent of each executor kind this worker can run."""
    anthropic = ProviderAccess(settings.anthropic_api_key, settings.anthropic_base_url)
    openai = ProviderAccess(settings.openai_api_key, settings.openai_base_url)
    google = ProviderAccess(settings.gemini_api_key, settings.gemini_base_url)
    return {
        "command": CommandAgent(settings.command_templates),
        "claude_code": ClaudeCodeAgent(
            settings.claude_command,
            anthropic,
            settings.claude_permission_mode,
            settings.claude_allowed_tools,
        ),
        "codex": CodexAgent(settings.codex_command, openai, settings.codex_sandbox),
        "gemini": GeminiAgent(settings.gemini_command, google, settings.gemini_approval_mode),
        "llm": LlmAgent(settings.llm_context_bytes),
    }


@asynccontextmanager
async def lifespan(app: FastAPI, settings: RunnerSettings) -> AsyncIterator[None]:
    """Own every client; drain running agents and release their leases at shutdown."""
    async with service_runtime(settings) as runtime:
        worker = await start_worker(runtime, settings, agents_for(settings))
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
    routers = [run_endpoints.router, pull_request_endpoints.router, pull_request_endpoints.cron]
    if settings.programmatic_subscriptions:
        routers.append(subscription_router(settings.app_id))
    return create_service_app(
        "dursor agent-runner",
        partial(lifespan, settings=settings),
        routers,
        description="Executes runs: claim with a lease, workspace, agent process, events.",
        app_api_token=settings.sidecar_app_token(),
    )
