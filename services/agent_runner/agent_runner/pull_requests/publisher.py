"""Open or update the pull request of a run: push its branch, then one PR per branch.

The branch is restored from the run's bundle when this worker does not hold the
worktree. The push authenticates with a repository-scoped installation token passed
through git's environment (`GIT_CONFIG_*`), so it is never written to a git config,
a remote URL, argv or a log line.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import structlog

from agent_runner.git.workspaces import GitError, Workspaces, git
from agent_runner.pull_requests.github import GitHubClient, GitHubError, PullRequest
from agent_runner.pull_requests.text import compose_pull_request
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


def auth_env(token: str) -> dict[str, str]:
    """git configuration through the environment: an Authorization header for HTTPS."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


async def push_branch(worktree: Path, remote_url: str, branch: str, token: str) -> None:
    """Push the run branch to the repository's own URL (no remote is configured)."""
    await git(
        "push",
        "--quiet",
        remote_url,
        f"HEAD:refs/heads/{branch}",
        cwd=worktree,
        extra_env=auth_env(token),
    )


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
        token = await self.tokens(job.url)
        worktree = await self._worktree(job)
        await push_branch(worktree, job.url, job.branch, token)
        title, body = compose_pull_request(job, worktree)
        client = self.clients(token)
        existing = await client.open_pull_request(repo.full_name, job.branch)
        if existing is not None:
            return await client.update_pull_request(repo.full_name, existing.number, title, body)
        return await client.create_pull_request(
            repo.full_name, title, body, job.branch, job.base_branch
        )

    async def _worktree(self, job: PublishJob) -> Path:
        bundle = await self.artifacts.get(job.bundle_uri) if job.bundle_uri else None
        if bundle is None:
            raise GitHubError(409, "the run has no commits to push")
        return await self.workspaces.prepare(
            job.url, str(job.run_id), job.branch, job.base_branch, bundle
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
