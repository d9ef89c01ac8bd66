"""Open or update the pull request of a run: push its branch, then one PR per branch.

The branch is pushed from a clean repository made from the run's bundle
(`clean_push.py`), never from the run's own repository, whose config and hooks the agent
could write. The push authenticates with a repository-scoped installation token passed
through git's environment (`GIT_CONFIG_*`), so it is never written to a git config,
a remote URL, argv or a log line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

import structlog

from agent_runner.git.clean_push import clean_checkout
from agent_runner.git.workspaces import GitError, Workspaces
from agent_runner.pull_requests.github import GitHubClient, GitHubError, PullRequest
from agent_runner.pull_requests.text import TEMPLATE_PATHS, compose_pull_request
from dursor_contracts.events import EventType, ProgressData
from dursor_kit.artifacts import ArtifactStore
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.pull_requests import PublishJob, publish_job, record_failure, record_open

log = structlog.get_logger(__name__)

TokenSource = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class GitHubRepo:
    """Where a repository lives on GitHub (or GitHub Enterprise Server)."""

    full_name: str


def github_repo(url: str, github_hosts: list[str]) -> GitHubRepo | None:
    """owner/name of a repository URL on a configured GitHub host, else None."""
    parts = urlsplit(url)
    host = parts.netloc.lower()
    if host not in {h.lower() for h in github_hosts}:
        return None
    path = parts.path.strip("/").removesuffix(".git")
    segments = path.split("/")
    return GitHubRepo("/".join(segments[-2:])) if len(segments) >= 2 else None


@dataclass
class PullRequestPublisher:
    """Pushes a run's branch and opens (or updates) its pull request."""

    transactions: Transactions
    workspaces: Workspaces
    artifacts: ArtifactStore
    tokens: TokenSource
    clients: Callable[[str], GitHubClient]
    github_hosts: list[str]

    async def publish(self, pr_id: UUID) -> None:
        """Do the whole flow; a permanent failure is recorded on the PR and the run."""
        async with self.transactions.engine.connect() as conn:
            job = await publish_job(conn, pr_id)
        if job is None:
            return
        try:
            pull = await self._push_and_open(job)
        except GitHubError as exc:
            await self._record_failure(job, exc.message if not exc.retryable else str(exc))
            return
        except GitError as exc:  # e.g. the push was rejected by branch protection
            await self._record_failure(job, str(exc))
            return
        await self._record_open(job, pull)

    async def _push_and_open(self, job: PublishJob) -> PullRequest:
        repo = github_repo(job.url, self.github_hosts)
        if repo is None:
            raise GitHubError(422, f"{job.url} is not a repository on a configured GitHub host")
        bundle = await self.artifacts.get(job.bundle_uri) if job.bundle_uri else None
        if not bundle:
            raise GitHubError(409, "the run has no commits to push")
        token = await self.tokens(job.url)
        async with clean_checkout(self.workspaces, job.url, job.branch, bundle) as checkout:
            await checkout.push(job.url, token)
            template = await checkout.regular_file(TEMPLATE_PATHS)
        title, body = compose_pull_request(job, template)
        client = self.clients(token)
        existing = await client.open_pull_request(repo.full_name, job.branch)
        if existing is not None:
            return await client.update_pull_request(repo.full_name, existing.number, title, body)
        return await client.create_pull_request(
            repo.full_name, title, body, job.branch, job.base_branch
        )

    async def _record_open(self, job: PublishJob, pull: PullRequest) -> None:
        async with self.transactions.begin() as work:
            await record_open(work, job.id, pull.number, pull.url, pull.head_sha)
            await _note(work, job.run_id, f"pull request #{pull.number} is open: {pull.url}")
        log.info("pull request open", pr=pull.number, run_id=str(job.run_id))

    async def _record_failure(self, job: PublishJob, reason: str) -> None:
        async with self.transactions.begin() as work:
            await record_failure(work, job.id, reason)
            await _note(work, job.run_id, f"the pull request could not be opened: {reason}")
        log.warning("pull request failed", run_id=str(job.run_id), reason=reason)


async def _note(work: UnitOfWork, run_id: UUID, message: str) -> None:
    note = ProgressData(message=message, step="pull-request")
    await append_events(work, run_id, [NewEvent(EventType.PROGRESS, note)])
