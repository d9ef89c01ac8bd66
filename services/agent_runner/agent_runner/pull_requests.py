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
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.github import GitHubClient, GitHubError, PullRequest
from agent_runner.pr_text import compose_pull_request
from agent_runner.workspace import GitError, Workspaces, git
from dursor_contracts.events import EventType, ProgressData
from dursor_kit.artifacts import ArtifactStore
from dursor_kit.db.engine import one_or_none
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.schema import pull_requests, repos, runs, tasks

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

    engine: AsyncEngine
    workspaces: Workspaces
    artifacts: ArtifactStore
    tokens: TokenSource
    clients: Callable[[str], GitHubClient]
    github_hosts: list[str]
    notify_relay: Callable[[], None]

    async def publish(self, pr_id: UUID) -> None:
        """Do the whole flow; a permanent failure is recorded on the PR and the run."""
        job = await self._load(pr_id)
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

    async def _load(self, pr_id: UUID) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = await one_or_none(
                conn,
                select(
                    pull_requests.c.id,
                    pull_requests.c.number,
                    pull_requests.c.run_id,
                    runs.c.branch,
                    runs.c.bundle_uri,
                    runs.c.instruction,
                    runs.c.summary,
                    runs.c.files_changed,
                    runs.c.executor_type,
                    runs.c.model,
                    runs.c.turn,
                    tasks.c.title,
                    tasks.c.base_branch,
                    repos.c.url,
                )
                .join(runs, runs.c.id == pull_requests.c.run_id)
                .join(tasks, tasks.c.id == runs.c.task_id)
                .join(repos, repos.c.id == tasks.c.repo_id)
                .where(pull_requests.c.id == pr_id),
            )
        return dict(row._mapping) if row is not None else None

    async def _push_and_open(self, job: dict[str, Any]) -> PullRequest:
        repo = github_repo(job["url"], self.github_hosts)
        if repo is None:
            raise GitHubError(422, f"{job['url']} is not a repository on a configured GitHub host")
        token = await self.tokens(job["url"])
        worktree = await self._worktree(job)
        await push_branch(worktree, job["url"], job["branch"], token)
        title, body = compose_pull_request(job, worktree)
        client = self.clients(token)
        existing = await client.open_pull_request(repo.full_name, job["branch"])
        if existing is not None:
            return await client.update_pull_request(repo.full_name, existing.number, title, body)
        return await client.create_pull_request(
            repo.full_name, title, body, job["branch"], job["base_branch"]
        )

    async def _worktree(self, job: dict[str, Any]) -> Path:
        bundle = await self.artifacts.get(job["bundle_uri"]) if job["bundle_uri"] else None
        if bundle is None:
            raise GitHubError(409, "the run has no commits to push")
        return await self.workspaces.prepare(
            job["url"], str(job["run_id"]), job["branch"], job["base_branch"], bundle
        )

    async def _record_open(self, job: dict[str, Any], pull: PullRequest) -> None:
        await self._save(
            job,
            {
                "number": pull.number,
                "url": pull.url,
                "state": "open",
                "head_sha": pull.head_sha,
                "error": None,
            },
            f"pull request #{pull.number} is open: {pull.url}",
        )
        log.info("pull request open", pr=pull.number, run_id=str(job["run_id"]))

    async def _record_failure(self, job: dict[str, Any], reason: str) -> None:
        await self._save(
            job,
            {"state": "failed", "error": reason},
            f"the pull request could not be opened: {reason}",
        )
        log.warning("pull request failed", run_id=str(job["run_id"]), reason=reason)

    async def _save(self, job: dict[str, Any], values: dict[str, Any], message: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(pull_requests)
                .where(pull_requests.c.id == job["id"])
                .values(updated_at=func.now(), **values)
            )
            note = ProgressData(message=message, step="pull-request")
            await append_events(conn, job["run_id"], [NewEvent(EventType.PROGRESS, note)])
        self.notify_relay()
