"""A scriptable CI: GitHub Actions check suites, jobs with steps and logs, and other CIs' statuses.

A test says what CI does for a head commit (`CiScript`: Actions jobs whose steps pass
or fail with some output, commit statuses of other CIs with a details URL), either at
once (`run`) or whenever a PR's head moves (`react`). The stand-in then acts as GitHub
does for a `pull_request`-triggered workflow (docs.github.com "Webhook events and
payloads": `check_run` created/completed and `check_suite` completed reach every App
subscribed to checks; `requested`/`rerequested` go only to the suite's own app, so the
dursor App never sees them; `status` for each commit status). A re-run (`rerun`) keeps
the check suite and workflow run, bumps `run_attempt`, and creates new check runs
(new job ids), as re-running an Actions workflow does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.standins.github.ci_shapes import CiShapes
from tests.standins.github.git_repos import RepoGit
from tests.standins.github.shapes import ACTIONS_APP, Site
from tests.standins.github.store import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    JobStep,
    PullState,
    Store,
    now_iso,
)
from tests.standins.github.webhooks import WebhookSender

EXIT_ANNOTATION = "Process completed with exit code 1."


@dataclass(frozen=True)
class Step:
    """One step of an Actions job: its name, conclusion and what it printed."""

    name: str
    conclusion: str = "success"
    output: str = ""


@dataclass(frozen=True)
class Job:
    """An Actions job; steps after the first failed one are skipped, as on GitHub."""

    name: str
    steps: tuple[Step, ...] = (Step("Run tests"),)

    @property
    def conclusion(self) -> str:
        """failure if a step failed, else success."""
        return "failure" if any(s.conclusion == "failure" for s in self.steps) else "success"


@dataclass(frozen=True)
class ExternalStatus:
    """A commit status from a CI outside Actions; its details page serves `log` unless
    `target_url` points elsewhere."""

    context: str
    state: str
    description: str = ""
    log: str = ""
    target_url: str | None = None
    creator: str = "ci-vendor"


@dataclass(frozen=True)
class CiScript:
    """What CI reports for one head commit."""

    jobs: tuple[Job, ...] = ()
    statuses: tuple[ExternalStatus, ...] = ()
    workflow: str = "CI"


def passing(job: str = "test") -> CiScript:
    """One green Actions job."""
    return CiScript(jobs=(Job(job, (Step("Run tests", output="5 passed"),)),))


def failing(step: str = "Run tests", output: str = "1 failed", job: str = "test") -> CiScript:
    """One Actions job whose named step fails with `output`."""
    return CiScript(jobs=(Job(job, (Step("Install dependencies"), Step(step, "failure", output))),))


@dataclass(frozen=True)
class PushedHead:
    """A PR's new head commit, as a CI reaction sees it."""

    repo: str
    number: int
    branch: str
    sha: str
    git: RepoGit

    def read(self, path: str) -> str | None:
        """A file's text at this commit."""
        return self.git.read(self.repo, self.sha, path)


Reaction = Callable[[PushedHead], CiScript | None]


@dataclass
class CiRun:
    """What one CI pass produced: the Actions suite (if any), its check runs, the statuses."""

    suite: CheckSuite | None
    runs: list[CheckRun] = field(default_factory=list)
    statuses: list[CommitStatus] = field(default_factory=list)
    script: CiScript = field(default_factory=CiScript)


class ScriptedCI:
    """Runs CI scripts against the store and sends the webhooks GitHub would."""

    def __init__(
        self, store: Store, git: RepoGit, site: Site, hooks: WebhookSender, shapes: CiShapes
    ) -> None:
        self._store, self._git, self._site, self._hooks, self._shapes = (
            store,
            git,
            site,
            hooks,
            shapes,
        )
        self._reactions: dict[tuple[str, int | None], Reaction] = {}
        self._tasks: set[asyncio.Task[CiRun]] = set()
        self.runs: list[CiRun] = []

    def react(self, repo: str, reaction: Reaction, number: int | None = None) -> None:
        """Run `reaction`'s script whenever a PR (one, or any of `repo`) gets a new head."""
        self._reactions[(repo, number)] = reaction

    def head_moved(self, repo: str, pull: PullState, sha: str) -> None:
        """A PR opened or pushed: start the reaction's CI in the background."""
        reaction = self._reactions.get((repo, pull.number)) or self._reactions.get((repo, None))
        script = (
            reaction(PushedHead(repo, pull.number, pull.head, sha, self._git)) if reaction else None
        )
        if script is not None:
            task = asyncio.get_running_loop().create_task(self.run(repo, sha, script, pull.head))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every CI pass under way and every webhook it sent is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))
        await self._hooks.settled()

    async def run(self, repo: str, sha: str, script: CiScript, branch: str | None = None) -> CiRun:
        """Start and finish one CI pass on `sha`; returns when its webhooks were answered."""
        return await self.finish(self.start(repo, sha, script, branch))

    def start(self, repo: str, sha: str, script: CiScript, branch: str | None = None) -> CiRun:
        """Queue the pass: check runs in progress (`check_run` created), statuses pending."""
        suite = None
        if script.jobs:
            suite = CheckSuite(
                self._store.next_id(), repo, sha, branch, ACTIONS_APP, workflow=script.workflow
            )
            suite.run_id, suite.status = self._store.next_id(), "in_progress"
            self._store.suites[suite.id] = suite
        started = CiRun(suite, script=script)
        if suite is not None:
            started.runs = [self._start_job(suite, job) for job in script.jobs]
        started.statuses = [self._status(repo, sha, s, "pending") for s in script.statuses]
        self.runs.append(started)
        return started

    def _start_job(self, suite: CheckSuite, job: Job) -> CheckRun:
        run = CheckRun(
            self._store.next_id(), suite.id, job.name, status="in_progress", started_at=now_iso()
        )
        run.external_id, run.run_attempt = str(uuid.uuid4()), suite.run_attempt
        run.details_url = (
            f"{self._site.repo_html(suite.repo)}/actions/runs/{suite.run_id}/job/{run.id}"
        )
        run.steps = [JobStep(s.name, i + 1, "queued") for i, s in enumerate(job.steps)]
        self._store.check_runs[run.id] = run
        self._send_run("created", run)
        return run

    async def finish(self, started: CiRun) -> CiRun:
        """Complete the pass as scripted; `check_run`, `check_suite` and `status` go out."""
        for run, job in zip(started.runs, started.script.jobs, strict=True):
            self._complete_job(run, job)
            self._send_run("completed", run)
        if started.suite is not None:
            self._complete_suite(started.suite)
        sha = (
            started.suite.head_sha
            if started.suite
            else (started.statuses[0].sha if started.statuses else "")
        )
        repo = (
            started.suite.repo
            if started.suite
            else (started.statuses[0].repo if started.statuses else "")
        )
        started.statuses = [self._status(repo, sha, s, s.state) for s in started.script.statuses]
        await self._hooks.settled()
        return started

    async def rerun(self, suite_id: int, script: CiScript) -> CiRun:
        """Re-run a workflow: same suite and run, next attempt, new check runs."""
        suite = self._store.suites[suite_id]
        suite.run_attempt += 1
        suite.status, suite.conclusion, suite.updated_at = "in_progress", None, now_iso()
        started = CiRun(suite, script=CiScript(jobs=script.jobs, workflow=suite.workflow))
        started.runs = [self._start_job(suite, job) for job in script.jobs]
        self.runs.append(started)
        return await self.finish(started)

    def _complete_job(self, run: CheckRun, job: Job) -> None:
        failed = False
        for step, scripted in zip(run.steps, job.steps, strict=True):
            step.status, step.started_at, step.completed_at = "completed", now_iso(), now_iso()
            step.conclusion = "skipped" if failed else scripted.conclusion
            failed = failed or scripted.conclusion == "failure"
        run.status, run.conclusion, run.completed_at = "completed", job.conclusion, now_iso()
        run.log = job_log(job)
        if failed:
            suite = self._store.suites[run.suite_id]
            run.annotations = [exit_annotation(self._site.repo_html(suite.repo), suite.head_sha)]

    def _complete_suite(self, suite: CheckSuite) -> None:
        latest = [r for r in self._store.runs_of(suite.id) if r.run_attempt == suite.run_attempt]
        suite.status, suite.updated_at = "completed", now_iso()
        suite.conclusion = (
            "failure" if any(r.conclusion == "failure" for r in latest) else "success"
        )
        sender = self._sender(suite.repo, suite.head_branch)
        self._hooks.send(
            "check_suite",
            suite.repo,
            sender,
            {"action": "completed", "check_suite": self._shapes.suite(suite)},
        )

    def _send_run(self, action: str, run: CheckRun) -> None:
        suite = self._store.suites[run.suite_id]
        payload = {"action": action, "check_run": self._shapes.run_in_webhook(run)}
        self._hooks.send(
            "check_run", suite.repo, self._sender(suite.repo, suite.head_branch), payload
        )

    def _sender(self, repo: str, branch: str | None) -> str:
        """Who triggered the workflow: the PR's author (the App's bot for dursor's PRs)."""
        pulls = self._store.open_pulls_with_head(repo, branch or "")
        return pulls[0].user if pulls and pulls[0].user else self._site.bot

    def _status(self, repo: str, sha: str, scripted: ExternalStatus, state: str) -> CommitStatus:
        made = CommitStatus(
            self._store.next_id(), repo, sha, scripted.context, state, scripted.description or None,
            scripted.target_url, scripted.creator, scripted.log,
        )  # fmt: skip
        made.target_url = scripted.target_url or f"{self._site.own}/_external-ci/{made.id}"
        self._store.statuses.append(made)
        self.post_status(made)
        return made

    def post_status(self, status: CommitStatus) -> None:
        """A status was set (by a script or through the API): `status` goes out."""
        self._hooks.send("status", status.repo, status.creator, self._shapes.status_event(status))


def job_log(job: Job) -> str:
    """The plain-text log GitHub serves for an Actions job: timestamped lines, step groups."""
    stamp = now_iso().replace("Z", ".0000000Z")
    lines = [
        f"{stamp} ##[group]Set up job",
        f"{stamp} Current runner version: '2.330.0'",
        f"{stamp} ##[endgroup]",
    ]
    for step in job.steps:
        lines += [f"{stamp} ##[group]Run {step.name}", f"{stamp} ##[endgroup]"]
        lines += [f"{stamp} {text}" for text in step.output.splitlines()]
        if step.conclusion == "failure":
            lines.append(f"{stamp} ##[error]{EXIT_ANNOTATION}")
            break
    lines.append(f"{stamp} Cleaning up orphan processes")
    return "\n".join(lines) + "\n"


def exit_annotation(repo_html: str, sha: str) -> dict[str, object]:
    """The annotation Actions puts on a job whose step exited non-zero."""
    return {
        "path": ".github",
        "blob_href": f"{repo_html}/blob/{sha}/.github",
        "start_line": 1,
        "end_line": 1,
        "start_column": None,
        "end_column": None,
        "annotation_level": "failure",
        "title": "",
        "message": EXIT_ANNOTATION,
        "raw_details": "",
    }
