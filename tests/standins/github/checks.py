"""REST routes of CI results: check runs and suites, Actions jobs and logs, commit statuses.

Follows docs.github.com/rest "Checks: check runs" (List check runs for a Git reference:
`filter=latest|all`, `check_name`, `status`; Get a check run; List check run
annotations), "Checks: check suites" (List check suites for a Git reference, Get a
check suite), "Actions: workflow jobs" (Get a job for a workflow run; List jobs for a
workflow run, `filter=latest|all`; Download job logs for a workflow run: 302 with a
`Location` to a short-lived plain-text download that needs no token, which the
stand-in serves itself under `/_logs/`), and "Commits: commit statuses" (Create a
commit status: 201; List commit statuses for a reference, newest first; Get the
combined status for a specific reference). Lists carry ETags like the rest of the API.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from tests.standins.github.ci import ScriptedCI
from tests.standins.github.ci_shapes import CiShapes
from tests.standins.github.gate import RestGate, page_of, repo_of
from tests.standins.github.git_repos import RepoGit
from tests.standins.github.shapes import ACTIONS_APP, Site
from tests.standins.github.store import CheckRun, CommitStatus, Store

Json = dict[str, Any]
STATUS_STATES = ("error", "failure", "pending", "success")


class CheckRoutes:
    """Read (and, for statuses, write) CI results over REST."""

    def __init__(
        self,
        store: Store,
        git: RepoGit,
        site: Site,
        gate: RestGate,
        shapes: CiShapes,
        ci: ScriptedCI,
    ) -> None:
        self._store, self._git, self._site, self._gate = store, git, site, gate
        self._shapes, self._ci = shapes, ci
        self._log_key = secrets.token_urlsafe(16)

    def _sha(self, repo: str, ref: str) -> str:
        """A ref (branch, `heads/...` or a sha) as a commit sha."""
        return self._git.branch_sha(repo, ref.removeprefix("heads/")) or ref

    def _latest(self, runs: list[CheckRun], request: Request) -> list[CheckRun]:
        if request.query_params.get("filter", "latest") == "all":
            return runs
        newest: dict[tuple[int, str], CheckRun] = {}
        for run in runs:
            newest[(run.suite_id, run.name)] = run
        return list(newest.values())

    async def runs_for_ref(self, request: Request) -> Response:
        """Check runs of a commit (latest per name unless `filter=all`), with an ETag."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        sha = self._sha(repo, request.path_params["ref"])
        runs = [r for s in self._store.suites_of(repo, sha) for r in self._store.runs_of(s.id)]
        wanted_name, wanted_status = (
            request.query_params.get("check_name"),
            request.query_params.get("status"),
        )
        runs = [
            r for r in self._latest(runs, request)
            if wanted_name in (None, r.name) and wanted_status in (None, r.status)
        ]  # fmt: skip
        chunk, link = page_of(request, runs)
        body = {"total_count": len(runs), "check_runs": [self._shapes.run(r) for r in chunk]}
        return self._gate.conditional(request, body, link)

    async def suites_for_ref(self, request: Request) -> Response:
        """Check suites of a commit, with an ETag."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        suites = self._store.suites_of(repo, self._sha(repo, request.path_params["ref"]))
        chunk, link = page_of(request, suites)
        body = {"total_count": len(suites), "check_suites": [self._shapes.suite(s) for s in chunk]}
        return self._gate.conditional(request, body, link)

    async def suite(self, request: Request) -> Response:
        """One check suite."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        found = self._store.suites.get(request.path_params["suite_id"])
        if found is None or found.repo != repo:
            return self._gate.error(request, 404, "Not Found")
        return self._gate.json(request, 200, self._shapes.suite(found))

    async def suite_runs(self, request: Request) -> Response:
        """The check runs of one suite (latest attempt unless `filter=all`)."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        found = self._store.suites.get(request.path_params["suite_id"])
        if found is None or found.repo != repo:
            return self._gate.error(request, 404, "Not Found")
        runs = self._latest(self._store.runs_of(found.id), request)
        chunk, link = page_of(request, runs)
        body = {"total_count": len(runs), "check_runs": [self._shapes.run(r) for r in chunk]}
        return self._gate.json(request, 200, body, link)

    def _run(self, request: Request, key: str) -> CheckRun | None:
        found = self._store.check_runs.get(request.path_params[key])
        if found is None or self._store.suites[found.suite_id].repo != repo_of(request):
            return None
        return found

    async def check_run(self, request: Request) -> Response:
        """One check run."""
        if (refused := self._gate.refuse(request, repo_of(request))) is not None:
            return refused
        found = self._run(request, "check_run_id")
        if found is None:
            return self._gate.error(request, 404, "Not Found")
        return self._gate.json(request, 200, self._shapes.run(found))

    async def annotations(self, request: Request) -> Response:
        """A check run's annotations."""
        if (refused := self._gate.refuse(request, repo_of(request))) is not None:
            return refused
        found = self._run(request, "check_run_id")
        if found is None:
            return self._gate.error(request, 404, "Not Found")
        chunk, link = page_of(request, found.annotations)
        return self._gate.json(request, 200, chunk, link)

    def _job(self, request: Request) -> CheckRun | None:
        found = self._run(request, "job_id")
        return found if found and self._store.suites[found.suite_id].app == ACTIONS_APP else None

    async def job(self, request: Request) -> Response:
        """One Actions job with its steps."""
        if (refused := self._gate.refuse(request, repo_of(request))) is not None:
            return refused
        found = self._job(request)
        if found is None:
            return self._gate.error(request, 404, "Not Found")
        return self._gate.json(request, 200, self._shapes.job(found))

    async def run_jobs(self, request: Request) -> Response:
        """The jobs of a workflow run (latest attempt unless `filter=all`)."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        suites = [
            s
            for s in self._store.suites.values()
            if s.repo == repo and s.run_id == request.path_params["run_id"]
        ]
        if not suites:
            return self._gate.error(request, 404, "Not Found")
        runs = self._store.runs_of(suites[0].id)
        if request.query_params.get("filter", "latest") != "all":
            runs = [r for r in runs if r.run_attempt == suites[0].run_attempt]
        chunk, link = page_of(request, runs)
        return self._gate.json(
            request,
            200,
            {"total_count": len(runs), "jobs": [self._shapes.job(r) for r in chunk]},
            link,
        )

    async def job_logs(self, request: Request) -> Response:
        """302 to the job's plain-text log (only once the job has completed, like GitHub)."""
        if (refused := self._gate.refuse(request, repo_of(request))) is not None:
            return refused
        found = self._job(request)
        if found is None or found.status != "completed":
            return self._gate.error(request, 404, "Not Found")
        self._gate.calls.append((request.method, request.url.path, 302))
        return RedirectResponse(
            f"{self._site.own}/_logs/jobs/{found.id}?sig={self._sign(found.id)}", 302
        )

    def _sign(self, job_id: int) -> str:
        return hmac.new(self._log_key.encode(), str(job_id).encode(), "sha256").hexdigest()[:32]

    async def log_download(self, request: Request) -> Response:
        """The log behind the redirect: no token needed, the signed URL is the key."""
        job_id = request.path_params["job_id"]
        found = self._store.check_runs.get(job_id)
        if found is None or not hmac.compare_digest(
            request.query_params.get("sig", ""), self._sign(job_id)
        ):
            return PlainTextResponse("AuthenticationFailed", status_code=403)
        return PlainTextResponse(found.log)

    async def external_details(self, request: Request) -> Response:
        """The details page of another CI's status (its `target_url`), with its log."""
        found = next(
            (s for s in self._store.statuses if s.id == request.path_params["status_id"]), None
        )
        if found is None:
            return PlainTextResponse("Not Found", status_code=404)
        return PlainTextResponse(f"{found.context}: {found.state}\n{found.log}")

    async def create_status(self, request: Request) -> Response:
        """Set a commit status as the App (201); `status` goes out."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        body = await request.json()
        if body.get("state") not in STATUS_STATES:
            errors = [
                {
                    "resource": "Status",
                    "code": "custom",
                    "field": "state",
                    "message": "state is not included in the list",
                }
            ]
            return self._gate.error(request, 422, "Validation Failed", errors=errors)
        sha, context = request.path_params["sha"], body.get("context") or "default"
        made = CommitStatus(
            self._store.next_id(), repo, sha, context, body["state"],
            body.get("description"), body.get("target_url"), self._site.bot,
        )  # fmt: skip
        self._store.statuses.append(made)
        self._ci.post_status(made)
        return self._gate.json(request, 201, self._shapes.status(made))

    async def list_statuses(self, request: Request) -> Response:
        """Every status of a reference, newest first."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        sha = self._sha(repo, request.path_params["ref"])
        found = [s for s in reversed(self._store.statuses) if (s.repo, s.sha) == (repo, sha)]
        chunk, link = page_of(request, found)
        return self._gate.json(request, 200, [self._shapes.status(s) for s in chunk], link)

    async def combined_status(self, request: Request) -> Response:
        """The combined status of a reference, with an ETag."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        return self._gate.conditional(
            request, self._shapes.combined(repo, self._sha(repo, request.path_params["ref"]))
        )
