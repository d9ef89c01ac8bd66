"""Test-only HTTP controls of the stand-in (`/_control/*`): set CI results, the rate limit,
injected failures, and a PR's state from GitHub's side."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.standins.github.gate import RestGate
from tests.standins.github.git_repos import RepoGit
from tests.standins.github.pulls import PullRequests
from tests.standins.github.store import CheckRun, CheckSuite, CommitStatus, Store

LEGACY_APP = "legacy-ci"


class Controls:
    """The `/_control/*` routes."""

    def __init__(self, store: Store, git: RepoGit, gate: RestGate, pulls: PullRequests) -> None:
        self._store, self._git, self._gate, self._pulls = store, git, gate, pulls

    def _repo_with(self, sha: str) -> str:
        """The repository holding a commit (the control names only the sha)."""
        return next((r for r in self._store.pulls if self._git.commit(r, sha).tree_id), "")

    async def set_ci(self, request: Request) -> Response:
        """Replace a commit's check runs (one suite of a non-Actions CI) and statuses."""
        body = await request.json()
        sha = body["sha"]
        repo = self._repo_with(sha)
        for suite in self._store.suites_of(repo, sha):
            for run in self._store.runs_of(suite.id):
                del self._store.check_runs[run.id]
            del self._store.suites[suite.id]
        self._store.statuses[:] = [
            s for s in self._store.statuses if (s.repo, s.sha) != (repo, sha)
        ]
        if runs := body.get("check_runs", []):
            suite = CheckSuite(self._store.next_id(), repo, sha, None, LEGACY_APP)
            self._store.suites[suite.id] = suite
            for given in runs:
                run = CheckRun(
                    self._store.next_id(),
                    suite.id,
                    given["name"],
                    given["status"],
                    given.get("conclusion"),
                )
                self._store.check_runs[run.id] = run
            done = all(r["status"] == "completed" for r in runs)
            suite.status = "completed" if done else "in_progress"
        for given in body.get("statuses", []):
            status = CommitStatus(
                self._store.next_id(), repo, sha, given.get("context", "default"), given["state"],
                given.get("description"), given.get("target_url"), "ci-vendor",
            )  # fmt: skip
            self._store.statuses.append(status)
        return JSONResponse({})

    async def set_rate_limit(self, request: Request) -> Response:
        """Exhaust (or restore) the rate limit until `reset_in` seconds from now."""
        body = await request.json()
        self._gate.remaining = body["remaining"]
        self._gate.reset_at = time.time() + body.get("reset_in", 0)
        return JSONResponse({})

    async def add_failure(self, request: Request) -> Response:
        """Answer the next matching call with a given status and message."""
        self._gate.failures.append(await request.json())
        return JSONResponse({})

    async def set_pull_state(self, request: Request) -> Response:
        """Close or merge a PR from GitHub's side (reopening is not modelled)."""
        repo = f"{request.path_params['owner']}/{request.path_params['name']}"
        number = request.path_params["number"]
        body = await request.json()
        pull = self._store.pull(repo, number)
        if pull is not None and body["state"] == "closed" and pull.state == "open":
            self._pulls.close(
                repo, number, merged=body.get("merged", False), by=repo.split("/", 1)[0]
            )
        return JSONResponse({})
