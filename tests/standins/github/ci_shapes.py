"""GitHub's JSON objects for check suites, check runs, Actions jobs and commit statuses.

Field lists follow docs.github.com/rest "Checks: check runs" (check-run: `output`,
`check_suite.id`, `app`, `pull_requests`, `details_url`), "Checks: check suites"
(check-suite: `head_commit`, `before`/`after`, `latest_check_runs_count`,
`check_runs_url`), "Actions: workflow jobs" (job: `run_id`, `steps[]`, `check_run_url`,
`runner_*`, `workflow_name`; for GitHub Actions a job's id is its check run's id) and
"Commits: commit statuses" (status, combined-commit-status).
"""

from __future__ import annotations

from typing import Any

from tests.standins.github.git_repos import RepoGit
from tests.standins.github.shapes import ACTIONS_APP, Site, app, pull_minimal, repository, user
from tests.standins.github.store import CheckRun, CheckSuite, CommitStatus, Store, node_id

Json = dict[str, Any]


class CiShapes:
    """Renders CI objects with links into the stand-in's REST and web URLs."""

    def __init__(self, site: Site, git: RepoGit, store: Store) -> None:
        self._site, self._git, self._store = site, git, store

    def _pulls(self, repo: str, sha: str) -> list[Json]:
        found = [
            p
            for p in self._store.pulls.get(repo, [])
            if p.state == "open" and self._git.branch_sha(repo, p.head) == sha
        ]
        return [pull_minimal(self._site, self._git, repo, p) for p in found]

    def suite(self, suite: CheckSuite) -> Json:
        """A `check-suite` object."""
        api = self._site.repo_api(suite.repo)
        commit = self._git.commit(suite.repo, suite.head_sha)
        person = {"name": commit.author_name, "email": commit.author_email}
        return {
            "id": suite.id,
            "node_id": node_id("CS", suite.id),
            "head_branch": suite.head_branch,
            "head_sha": suite.head_sha,
            "status": suite.status,
            "conclusion": suite.conclusion,
            "url": f"{api}/check-suites/{suite.id}",
            "before": None,
            "after": suite.head_sha,
            "pull_requests": self._pulls(suite.repo, suite.head_sha),
            "app": app(self._site, suite.app),
            "repository": repository(self._site, suite.repo),
            "created_at": suite.created_at,
            "updated_at": suite.updated_at,
            "rerequestable": True,
            "runs_rerequestable": True,
            "head_commit": {
                "id": suite.head_sha,
                "tree_id": commit.tree_id,
                "message": commit.message,
                "timestamp": commit.timestamp,
                "author": person,
                "committer": person,
            },
            "latest_check_runs_count": len(self._latest(suite)),
            "check_runs_url": f"{api}/check-suites/{suite.id}/check-runs",
        }

    def _latest(self, suite: CheckSuite) -> list[CheckRun]:
        return [r for r in self._store.runs_of(suite.id) if r.run_attempt == suite.run_attempt]

    def run(self, run: CheckRun) -> Json:
        """A `check-run` object."""
        suite = self._store.suites[run.suite_id]
        api = self._site.repo_api(suite.repo)
        url = f"{api}/check-runs/{run.id}"
        return {
            "id": run.id,
            "head_sha": suite.head_sha,
            "node_id": node_id("CR", run.id),
            "external_id": run.external_id,
            "url": url,
            "html_url": run.details_url,
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": len(run.annotations),
                "annotations_url": f"{url}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": suite.id},
            "app": app(self._site, suite.app),
            "pull_requests": self._pulls(suite.repo, suite.head_sha),
        }

    def run_in_webhook(self, run: CheckRun) -> Json:
        """A check run as `check_run` payloads carry it: with a fuller `check_suite`."""
        suite = self.suite(self._store.suites[run.suite_id])
        keys = (
            "id",
            "node_id",
            "head_branch",
            "head_sha",
            "status",
            "conclusion",
            "url",
            "before",
            "after",
            "pull_requests",
            "app",
            "created_at",
            "updated_at",
        )
        return self.run(run) | {"check_suite": {k: suite[k] for k in keys}}

    def job(self, run: CheckRun) -> Json:
        """An Actions `job` object (the same id as its check run)."""
        suite = self._store.suites[run.suite_id]
        assert suite.app == ACTIONS_APP, "only GitHub Actions check runs are jobs"
        api = self._site.repo_api(suite.repo)
        return {
            "id": run.id,
            "run_id": suite.run_id,
            "run_url": f"{api}/actions/runs/{suite.run_id}",
            "run_attempt": run.run_attempt,
            "node_id": node_id("CR", run.id),
            "head_sha": suite.head_sha,
            "url": f"{api}/actions/jobs/{run.id}",
            "html_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "created_at": run.created_at,
            "started_at": run.started_at or run.created_at,
            "completed_at": run.completed_at,
            "name": run.name,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status,
                    "conclusion": s.conclusion,
                    "number": s.number,
                    "started_at": s.started_at,
                    "completed_at": s.completed_at,
                }
                for s in run.steps
            ],
            "check_run_url": f"{api}/check-runs/{run.id}",
            "labels": ["ubuntu-latest"],
            "runner_id": 1,
            "runner_name": "GitHub Actions 1",
            "runner_group_id": 2,
            "runner_group_name": "GitHub Actions",
            "workflow_name": suite.workflow,
            "head_branch": suite.head_branch,
        }

    def status(self, status: CommitStatus) -> Json:
        """A commit `status` object."""
        return {
            "url": f"{self._site.repo_api(status.repo)}/statuses/{status.sha}",
            "avatar_url": f"{self._site.html}/avatars/{status.creator}",
            "id": status.id,
            "node_id": node_id("SC", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": status.created_at,
            "updated_at": status.updated_at,
            "creator": user(self._site, status.creator),
        }

    def combined(self, repo: str, sha: str) -> Json:
        """The `combined-commit-status`: the latest status per context and their verdict."""
        latest: dict[str, CommitStatus] = {}
        for status in self._store.statuses:
            if (status.repo, status.sha) == (repo, sha):
                latest[status.context] = status
        states = [s.state for s in latest.values()]
        verdict = (
            "failure" if any(s in ("failure", "error") for s in states)
            else "pending" if not states or "pending" in states
            else "success"
        )  # fmt: skip
        api = self._site.repo_api(repo)
        shown = [
            self.status(s) | {"required": False}
            for s in sorted(latest.values(), key=lambda s: -s.id)
        ]
        for entry in shown:
            entry.pop("creator")
        return {
            "state": verdict,
            "statuses": shown,
            "sha": sha,
            "total_count": len(shown),
            "repository": repository(self._site, repo),
            "commit_url": f"{api}/commits/{sha}",
            "url": f"{api}/commits/{sha}/status",
        }

    def status_event(self, status: CommitStatus) -> Json:
        """The body of a `status` webhook (before the common fields)."""
        commit = self._git.commit(status.repo, status.sha)
        api, html = self._site.repo_api(status.repo), self._site.repo_html(status.repo)
        person = {
            "name": commit.author_name,
            "email": commit.author_email,
            "date": commit.timestamp,
        }
        branches = [
            {"name": b, "commit": {"sha": sha, "url": f"{api}/commits/{sha}"}, "protected": False}
            for b, sha in self._git.branches(status.repo).items()
            if sha == status.sha
        ]
        return {
            "id": status.id,
            "sha": status.sha,
            "name": status.repo,
            "target_url": status.target_url,
            "avatar_url": f"{self._site.html}/avatars/{status.creator}",
            "context": status.context,
            "description": status.description,
            "state": status.state,
            "commit": {
                "sha": status.sha,
                "node_id": node_id("C", int(status.sha[:8] or "0", 16)),
                "commit": {
                    "author": person,
                    "committer": person,
                    "message": commit.message,
                    "tree": {"sha": commit.tree_id, "url": f"{api}/git/trees/{commit.tree_id}"},
                    "url": f"{api}/git/commits/{status.sha}",
                    "comment_count": 0,
                    "verification": {
                        "verified": False,
                        "reason": "unsigned",
                        "signature": None,
                        "payload": None,
                    },
                },
                "url": f"{api}/commits/{status.sha}",
                "html_url": f"{html}/commit/{status.sha}",
                "comments_url": f"{api}/commits/{status.sha}/comments",
                "author": None,
                "committer": None,
                "parents": [],
            },
            "branches": branches,
            "created_at": status.created_at,
            "updated_at": status.updated_at,
        }
