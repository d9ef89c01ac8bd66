"""What the GitHub stand-in remembers: pull requests, CI, reviews, comments, each with GitHub's ids.

Numeric ids come from one counter (GitHub's are unique per kind; unique overall is
stricter), node ids carry GitHub's type prefixes (`PR_`, `PRRT_`, `PRRC_`, ...) so a
GraphQL `node(id:)` or a mutation can tell what an id names.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field


def now_iso() -> str:
    """The current time as GitHub writes timestamps (ISO 8601, UTC, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class PullState:
    """One pull request of the stand-in."""

    number: int
    title: str
    body: str
    head: str
    base: str
    state: str = "open"
    merged: bool = False
    id: int = 0
    node_id: str = ""
    user: str = ""
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    merged_at: str | None = None
    merged_by: str | None = None


@dataclass
class CheckSuite:
    """A check suite of one app on one head commit (for Actions: one workflow run)."""

    id: int
    repo: str
    head_sha: str
    head_branch: str | None
    app: str
    status: str = "queued"
    conclusion: str | None = None
    workflow: str = ""
    run_id: int = 0
    run_attempt: int = 1
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class JobStep:
    """One step of an Actions job."""

    name: str
    number: int
    status: str = "queued"
    conclusion: str | None = None
    started_at: str | None = None
    completed_at: str | None = None


@dataclass
class CheckRun:
    """A check run; for GitHub Actions also the job (same id), with steps and a log."""

    id: int
    suite_id: int
    name: str
    status: str = "queued"
    conclusion: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    details_url: str | None = None
    external_id: str = ""
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    steps: list[JobStep] = field(default_factory=list)
    log: str = ""
    annotations: list[dict[str, object]] = field(default_factory=list)
    run_attempt: int = 1
    created_at: str = field(default_factory=now_iso)


@dataclass
class CommitStatus:
    """A commit status posted by a CI outside the Checks API."""

    id: int
    repo: str
    sha: str
    context: str
    state: str
    description: str | None
    target_url: str | None
    creator: str
    log: str = ""
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Review:
    """A submitted pull request review."""

    id: int
    repo: str
    number: int
    user: str
    state: str
    body: str
    commit_id: str
    submitted_at: str = field(default_factory=now_iso)


@dataclass
class ReviewComment:
    """An inline review comment; the first one of a thread, or a reply in it."""

    id: int
    review_id: int
    thread_id: str
    repo: str
    number: int
    user: str
    body: str
    path: str
    line: int
    side: str
    diff_hunk: str
    position: int
    commit_id: str
    in_reply_to_id: int | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class ReviewThread:
    """The conversation on one line of a pull request's diff."""

    node_id: str
    repo: str
    number: int
    path: str
    line: int
    side: str
    comment_ids: list[int] = field(default_factory=list)
    is_resolved: bool = False
    resolved_by: str | None = None
    is_outdated: bool = False


@dataclass
class IssueComment:
    """A comment on a pull request's conversation (the Issues API)."""

    id: int
    repo: str
    number: int
    user: str
    body: str
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Store:
    """Every object the stand-in holds, by id."""

    pulls: dict[str, list[PullState]] = field(default_factory=dict)
    suites: dict[int, CheckSuite] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    statuses: list[CommitStatus] = field(default_factory=list)
    reviews: dict[int, Review] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    threads: dict[str, ReviewThread] = field(default_factory=dict)
    issue_comments: dict[int, IssueComment] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100_001))

    def next_id(self) -> int:
        """A fresh numeric id."""
        return next(self._ids)

    def pull(self, repo: str, number: int) -> PullState | None:
        """A pull request by repository and number."""
        return next((p for p in self.pulls.get(repo, []) if p.number == number), None)

    def open_pulls_with_head(self, repo: str, branch: str) -> list[PullState]:
        """Open pull requests whose head is `branch`."""
        return [p for p in self.pulls.get(repo, []) if p.head == branch and p.state == "open"]

    def suites_of(self, repo: str, sha: str) -> list[CheckSuite]:
        """Check suites on a commit, oldest first."""
        return [s for s in self.suites.values() if s.repo == repo and s.head_sha == sha]

    def runs_of(self, suite_id: int) -> list[CheckRun]:
        """Check runs of a suite, oldest first."""
        return [r for r in self.check_runs.values() if r.suite_id == suite_id]

    def threads_of(self, repo: str, number: int) -> list[ReviewThread]:
        """A pull request's review threads in the order they were started."""
        return [t for t in self.threads.values() if t.repo == repo and t.number == number]

    def thread_comments(self, thread: ReviewThread) -> list[ReviewComment]:
        """A thread's comments, first one first."""
        return [self.review_comments[i] for i in thread.comment_ids]


def node_id(prefix: str, number: int) -> str:
    """A GitHub-style global node id for an object of one type."""
    return f"{prefix}_kwDO{number:010X}"
