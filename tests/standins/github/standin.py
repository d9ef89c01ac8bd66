"""The GitHub stand-in assembled: its state, its routes, and what tests do as GitHub's users."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from tests.standins.github.access import AccessRoutes, AppAccess, TokenCheck
from tests.standins.github.checks import CheckRoutes
from tests.standins.github.ci import ScriptedCI
from tests.standins.github.ci_shapes import CiShapes
from tests.standins.github.controls import Controls
from tests.standins.github.gate import RestGate
from tests.standins.github.git_repos import GitHttp, RepoGit
from tests.standins.github.graphql_api import GraphQLApi
from tests.standins.github.pulls import PullRequests
from tests.standins.github.reviews import InlineComment, ReviewRoutes, Reviews, ThreadAction
from tests.standins.github.shapes import Site
from tests.standins.github.store import (
    IssueComment,
    PullState,
    Review,
    ReviewComment,
    ReviewThread,
    Store,
)
from tests.standins.github.webhooks import WebhookSender

REPO = "/api/v3/repos/{owner}/{name}"


@dataclass
class GitHubRepos:
    """A GitHub (Enterprise Server layout) on loopback: git, REST, GraphQL, CI and webhooks.

    `public_url` is where tests serve it (`http://127.0.0.1:PORT`): it is the base of
    API links, log downloads and other CIs' details pages. Pages on `html_url` are not
    served; they only name things as github.com would.
    """

    root: Path
    token_ok: TokenCheck | None = None
    app_id: str = "4242"
    app_public_key: str | None = None
    installations: dict[str, int] = field(default_factory=dict)
    collaborators: dict[str, dict[str, str]] = field(default_factory=dict)
    public_url: str = "https://github.local"
    html_url: str = "https://github.local"
    app_slug: str = "dursor"

    def __post_init__(self) -> None:
        self.site = Site(
            self.html_url, self.public_url.rstrip("/"), int(self.app_id), self.app_slug
        )
        self.git = RepoGit(self.root)
        self.store = Store()
        self.access = AppAccess(
            self.app_id, self.app_public_key, self.installations, self.collaborators, self.token_ok
        )
        self.gate = RestGate(self.access.valid_token)
        self.hooks = WebhookSender(self.site, self.installations)
        self.pull_requests = PullRequests(
            self.store, self.git, self.site, self.gate, self.hooks, self.access
        )
        self.reviews = Reviews(
            self.store, self.git, self.site, self.hooks, self.access, self.pull_requests
        )
        self.ci = ScriptedCI(
            self.store, self.git, self.site, self.hooks, CiShapes(self.site, self.git, self.store)
        )
        self.pull_requests.head_moved.append(self.ci.head_moved)
        self.graphql = GraphQLApi(
            self.store, self.git, self.site, self.access, self.reviews, self.gate
        )

    # --- what tests read ---------------------------------------------------------------

    @property
    def pulls(self) -> dict[str, list[PullState]]:
        """Pull requests per repository."""
        return self.store.pulls

    @property
    def calls(self) -> list[tuple[str, str, int]]:
        """Every REST/GraphQL call: (method, path, status)."""
        return self.gate.calls

    @property
    def issued(self) -> dict[str, tuple[str, float]]:
        """Installation tokens issued: token -> (repository, expiry)."""
        return self.access.issued

    @property
    def thread_actions(self) -> list[ThreadAction]:
        """Replies, resolutions and unresolutions, in order."""
        return self.reviews.actions

    def repo_path(self, full_name: str) -> Path:
        """Where a repository's bare git directory lives."""
        return self.git.path(full_name)

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        """The commit a branch points at, or None if it does not exist."""
        return self.git.branch_sha(full_name, branch)

    def valid_token(self, token: str, full_name: str) -> bool:
        """An installation token issued for this repository and not expired (or a test's)."""
        return self.access.valid_token(token, full_name)

    def threads(self, repo: str, number: int) -> list[ReviewThread]:
        """A PR's review threads, oldest first."""
        return self.store.threads_of(repo, number)

    def thread_comments(self, thread: ReviewThread) -> list[ReviewComment]:
        """A thread's conversation, first comment first."""
        return self.store.thread_comments(thread)

    def issue_comments(self, repo: str, number: int) -> list[IssueComment]:
        """A PR's conversation comments, oldest first."""
        return [
            c for c in self.store.issue_comments.values() if (c.repo, c.number) == (repo, number)
        ]

    # --- what tests do as GitHub's users (each returns once its webhooks were answered) ----

    async def submit_review(
        self,
        repo: str,
        number: int,
        by: str,
        state: str,
        body: str = "",
        comments: list[InlineComment] | None = None,
    ) -> Review:
        """`by` submits a review (APPROVED, CHANGES_REQUESTED, COMMENTED) with inline comments."""
        review = self.reviews.submit(repo, number, by, state, body, comments or [])
        await self.hooks.settled()
        return review

    async def reply(self, thread_id: str, by: str, body: str) -> ReviewComment:
        """`by` replies in a thread."""
        made = self.reviews.reply(thread_id, by, body)
        await self.hooks.settled()
        return made

    async def resolve(self, thread_id: str, by: str, resolved: bool = True) -> ReviewThread:
        """`by` resolves (or unresolves) a thread."""
        thread = self.reviews.set_resolved(thread_id, by, resolved)
        await self.hooks.settled()
        return thread

    def mark_outdated(self, thread_id: str) -> None:
        """The code under a thread changed: GitHub shows it outdated (no current line)."""
        self.store.threads[thread_id].is_outdated = True

    async def comment(self, repo: str, number: int, by: str, body: str) -> IssueComment:
        """`by` comments on a PR's conversation."""
        made = self.pull_requests.comment(repo, number, by, body)
        await self.hooks.settled()
        return made

    async def close_pull(
        self, repo: str, number: int, merged: bool = False, by: str = ""
    ) -> PullState:
        """Close or merge a PR as `by` (the owner by default)."""
        pull = self.pull_requests.close(repo, number, merged, by or repo.split("/", 1)[0])
        await self.hooks.settled()
        return pull

    # --- the ASGI app --------------------------------------------------------------------

    async def _pushed(self, repo: str, moved: dict[str, str]) -> None:
        for branch, before in moved.items():
            self.pull_requests.pushed(repo, branch, before or None)

    def app(self) -> Starlette:
        """The ASGI app serving git, REST, GraphQL, log downloads and the test controls."""

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            yield
            await self.hooks.close()

        return Starlette(routes=self._routes(), lifespan=lifespan)

    def _routes(self) -> list[Route]:
        git_http = GitHttp(self.git, self.access.valid_token, self._pushed)
        access = AccessRoutes(self.access, self.gate, self.site)
        checks = CheckRoutes(
            self.store,
            self.git,
            self.site,
            self.gate,
            CiShapes(self.site, self.git, self.store),
            self.ci,
        )
        reviews = ReviewRoutes(self.reviews, self.store, self.gate, self.site)
        pulls, controls = (
            self.pull_requests,
            Controls(self.store, self.git, self.gate, self.pull_requests),
        )
        get, post, both = ["GET"], ["POST"], ["GET", "POST"]
        table = [
            ("/{owner}/{name}.git/{rest:path}", git_http.serve, both),
            ("/api/graphql", self.graphql.endpoint, post),
            (f"{REPO}/installation", access.repo_installation, get),
            (
                "/api/v3/app/installations/{installation:int}/access_tokens",
                access.create_access_token,
                post,
            ),
            (f"{REPO}/collaborators/{{username}}/permission", access.collaborator_permission, get),
            (f"{REPO}/pulls", pulls.list_or_create, both),
            (f"{REPO}/pulls/{{number:int}}", pulls.get_or_update, ["GET", "PATCH"]),
            (f"{REPO}/issues/{{number:int}}/comments", pulls.list_or_create_comments, both),
            (f"{REPO}/issues/comments/{{comment_id:int}}", pulls.get_comment, get),
            (f"{REPO}/pulls/{{number:int}}/reviews", reviews.list_reviews, get),
            (f"{REPO}/pulls/{{number:int}}/reviews/{{review_id:int}}", reviews.get_review, get),
            (
                f"{REPO}/pulls/{{number:int}}/reviews/{{review_id:int}}/comments",
                reviews.review_comments,
                get,
            ),
            (f"{REPO}/pulls/{{number:int}}/comments", reviews.list_comments, get),
            (f"{REPO}/pulls/comments/{{comment_id:int}}", reviews.get_comment, get),
            (
                f"{REPO}/pulls/{{number:int}}/comments/{{comment_id:int}}/replies",
                reviews.reply,
                post,
            ),
            (f"{REPO}/commits/{{ref:path}}/check-runs", checks.runs_for_ref, get),
            (f"{REPO}/commits/{{ref:path}}/check-suites", checks.suites_for_ref, get),
            (f"{REPO}/commits/{{ref:path}}/statuses", checks.list_statuses, get),
            (f"{REPO}/commits/{{ref:path}}/status", checks.combined_status, get),
            (f"{REPO}/statuses/{{sha}}", checks.create_status, post),
            (f"{REPO}/check-suites/{{suite_id:int}}", checks.suite, get),
            (f"{REPO}/check-suites/{{suite_id:int}}/check-runs", checks.suite_runs, get),
            (f"{REPO}/check-runs/{{check_run_id:int}}", checks.check_run, get),
            (f"{REPO}/check-runs/{{check_run_id:int}}/annotations", checks.annotations, get),
            (f"{REPO}/actions/jobs/{{job_id:int}}", checks.job, get),
            (f"{REPO}/actions/jobs/{{job_id:int}}/logs", checks.job_logs, get),
            (f"{REPO}/actions/runs/{{run_id:int}}/jobs", checks.run_jobs, get),
            ("/_logs/jobs/{job_id:int}", checks.log_download, get),
            ("/_external-ci/{status_id:int}", checks.external_details, get),
            ("/_control/ci", controls.set_ci, post),
            ("/_control/rate-limit", controls.set_rate_limit, post),
            ("/_control/fail", controls.add_failure, post),
            ("/_control/pulls/{owner}/{name}/{number:int}", controls.set_pull_state, post),
        ]
        return [Route(path, handler, methods=methods) for path, handler, methods in table]
