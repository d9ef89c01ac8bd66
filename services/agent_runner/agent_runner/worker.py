"""Everything one agent-runner process runs: relay, dispatcher, reaper, PR jobs, retention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from agent_runner.agents.confinement import Confinement
from agent_runner.agents.credentials import ModelProfileCredentials
from agent_runner.agents.executors.base import Agent
from agent_runner.agents.process import ProcessLimits
from agent_runner.git.retention import clean_worktrees_forever
from agent_runner.git.workspaces import Workspaces
from agent_runner.metrics import QueueDepth
from agent_runner.pull_requests.ci_status import CiPoller
from agent_runner.pull_requests.github import GitHubClient
from agent_runner.pull_requests.github_tokens import AuthServiceTokens
from agent_runner.pull_requests.jobs import PullRequestJobs
from agent_runner.pull_requests.loop import PullRequestLoop
from agent_runner.pull_requests.loop_github import LoopGitHub
from agent_runner.pull_requests.publisher import PullRequestPublisher
from agent_runner.runs.attempt import AttemptContext
from agent_runner.runs.budgets import BudgetCaps
from agent_runner.runs.dispatcher import Dispatcher
from agent_runner.runs.leases import RunLeases
from agent_runner.runs.reaper import reap_forever
from agent_runner.runs.secrets import RepoSecrets
from agent_runner.runs.setup_cache import SetupCache
from agent_runner.settings import RunnerSettings
from dursor_kit.artifacts import artifact_store_from
from dursor_kit.crypto import EncryptionKeyRing
from dursor_kit.db.unit_of_work import Transactions
from dursor_kit.runtime import ServiceRuntime
from dursor_kit.secret_names import ENCRYPTION_KEYS
from dursor_store.outbox import OutboxRelay

RETENTION_SWEEP_SECONDS = 3600.0
log = structlog.get_logger(__name__)


@dataclass
class Worker:
    """The long-lived parts of a worker that routes and shutdown need."""

    dispatcher: Dispatcher
    pr_jobs: PullRequestJobs

    async def drain(self, seconds: float) -> None:
        """Finish or release running agents and PR jobs."""
        await self.dispatcher.drain(seconds)
        await self.pr_jobs.drain(seconds)


def process_limits(settings: RunnerSettings) -> ProcessLimits:
    """The process limits every agent of this worker runs under."""
    return ProcessLimits(
        wall_clock_seconds=settings.wall_clock_seconds,
        idle_seconds=settings.idle_seconds,
        output_cap_bytes=settings.output_cap_bytes,
        kill_grace_seconds=settings.kill_grace_seconds,
    )


def attempt_context(
    runtime: ServiceRuntime,
    settings: RunnerSettings,
    transactions: Transactions,
    agents: Mapping[str, Agent],
    confinement: Confinement | None = None,
) -> AttemptContext:
    """What every attempt of this worker shares."""
    return AttemptContext(
        leases=RunLeases(transactions, settings.worker_id, settings.lease_seconds),
        workspaces=Workspaces(Path(settings.workspaces_dir)),
        artifacts=artifact_store_from(settings),
        agents=agents,
        limits=process_limits(settings),
        log_batch_bytes=settings.log_batch_bytes,
        log_batch_seconds=settings.log_batch_seconds,
        confinement=confinement or Confinement(),
        setup_cache=(
            SetupCache(
                Path(settings.workspaces_dir) / "setup-cache", settings.setup_cache_max_bytes
            )
            if settings.setup_cache
            else None
        ),
        prices=settings.prices,
        budgets=BudgetCaps(
            settings.budget_run_usd, settings.budget_user_month_usd, settings.user_month_budgets_usd
        ),
    )


def pr_jobs(
    runtime: ServiceRuntime, settings: RunnerSettings, ctx: AttemptContext
) -> PullRequestJobs:
    """Pull-request publishing and CI polling against the configured GitHub."""
    tokens = AuthServiceTokens(runtime.sidecar)

    def clients(token: str) -> GitHubClient:
        return GitHubClient(runtime.http, settings.github_api_url, token)

    transactions = ctx.leases.transactions
    publisher = PullRequestPublisher(
        transactions, ctx.workspaces, ctx.artifacts, tokens, clients, settings.github_hosts
    )
    poller = CiPoller(transactions, tokens, clients, settings.github_hosts)

    def loop_github(token: str) -> LoopGitHub:
        return LoopGitHub(runtime.http, settings.github_api_url, token)

    loop = PullRequestLoop(transactions, tokens, loop_github, settings.github_hosts)
    return PullRequestJobs(publisher, poller, loop)


async def start_worker(
    runtime: ServiceRuntime, settings: RunnerSettings, agents: Mapping[str, Agent]
) -> Worker:
    """Build the worker and start its background loops on the runtime."""
    relay = OutboxRelay(runtime.engine, runtime.sidecar, settings.app_id)
    transactions = Transactions(runtime.engine, relay)
    confinement = await Confinement.open(settings)
    if confinement.refusal:
        log.error("agent runs will fail", reason=confinement.refusal)
    ctx = attempt_context(runtime, settings, transactions, agents, confinement)
    keyring = EncryptionKeyRing.from_json(await runtime.secret(ENCRYPTION_KEYS))
    credentials = ModelProfileCredentials(runtime.engine, keyring)
    secrets = RepoSecrets(runtime.engine, keyring, settings.secret_injection_places)
    ctx = replace(ctx, secrets=secrets.for_run)
    dispatcher = Dispatcher(
        ctx, settings.max_concurrency, settings.pull_interval_seconds, credentials.for_run
    )
    background = runtime.background
    background.start(relay.run(), "outbox-relay")
    background.start(dispatcher.pull_forever(), "pull-queued-runs")
    background.start(
        reap_forever(
            transactions, settings.reaper_interval_seconds, QueueDepth(), settings.lease_seconds
        ),
        "reaper",
    )
    background.start(
        clean_worktrees_forever(
            ctx.workspaces,
            lambda: dispatcher.active_run_ids,
            settings.worktree_retention_seconds,
            RETENTION_SWEEP_SECONDS,
        ),
        "worktree-retention",
    )
    return Worker(dispatcher, pr_jobs(runtime, settings, ctx))
