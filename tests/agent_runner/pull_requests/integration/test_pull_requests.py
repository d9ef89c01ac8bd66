"""Pull requests from runs against real git over HTTP and a GitHub REST stand-in."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.git.workspaces import Workspaces
from agent_runner.pull_requests.ci_status import CiPoller, overall_status
from agent_runner.pull_requests.github import GitHubClient
from agent_runner.pull_requests.publisher import PullRequestPublisher
from dursor_kit.artifacts import LocalArtifactStore
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_store.schema import pull_requests, repos, run_events, runs, tasks
from tests.standins.github_repos import GitHubRepos
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.git_remote import git, make_remote

TOKEN = "ghs_integration_token_0123456789abcdef"
REPO = "acme/widgets"


@dataclass
class World:
    """The stand-in, its URL, and a publisher/poller wired to it."""

    github: GitHubRepos
    base_url: str
    publisher: PullRequestPublisher
    poller: CiPoller
    engine: AsyncEngine
    workspaces: Workspaces


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[World]:
    """A GitHub stand-in with one repository, and dursor's PR machinery pointed at it."""
    port = free_port()
    github = GitHubRepos(tmp_path / "github", token_ok=lambda token, repo: token == TOKEN)
    seed = make_remote(
        tmp_path / "seed",
        {
            "README.md": "# widgets\n",
            ".github/pull_request_template.md": "## Checklist\n- [ ] tests\n",
        },
    )
    (tmp_path / "github" / "acme").mkdir(parents=True)
    shutil.move(str(seed), github.repo_path(REPO))
    base_url = f"http://127.0.0.1:{port}"
    workspaces = Workspaces(tmp_path / "workspaces")
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    async with httpx.AsyncClient() as http, serve(github.app(), port):

        def clients(token: str) -> GitHubClient:
            return GitHubClient(http, f"{base_url}/api/v3", token)

        async def tokens(_: str) -> str:
            return TOKEN

        hosts = [f"127.0.0.1:{port}"]
        # Written as agent-runner, whose relay (not under test here) would publish them.
        transactions = Transactions(engine, PolledOutbox("agent-runner"))
        publisher = PullRequestPublisher(
            transactions, workspaces, artifacts, tokens, clients, hosts
        )
        poller = CiPoller(transactions, tokens, clients, hosts)
        yield World(github, base_url, publisher, poller, engine, workspaces)


async def a_finished_run(world: World, tmp_path: Path, change: str) -> dict[str, Any]:
    """Repo, task and a succeeded run whose branch (as a bundle) adds `change`."""
    url = f"{world.base_url}/{REPO}.git"
    run_id = uuid4()
    branch = f"dursor/{run_id.hex[:12]}"
    bundle_uri = await _bundle(world, tmp_path, url, branch, change, run_id)
    async with world.engine.begin() as conn:
        repo_id = await conn.scalar(
            insert(repos)
            .values(id=uuid4(), url=url, default_branch="main", created_by="t")
            .returning(repos.c.id)
        )
        task_id = await conn.scalar(
            insert(tasks)
            .values(
                id=uuid4(), repo_id=repo_id, title="Add widgets", base_branch="main", created_by="t"
            )
            .returning(tasks.c.id)
        )
        await conn.execute(
            insert(runs).values(
                id=run_id,
                task_id=task_id,
                executor_type="command",
                instruction="add widgets",
                status="queued",
                max_attempts=1,
                branch=branch,
                created_by="t",
            )
        )
        await conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(status="running", lease_owner="w", lease_expires_at=_later())
        )
        await conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="succeeded",
                lease_owner=None,
                lease_expires_at=None,
                summary="added widgets",
                bundle_uri=bundle_uri,
                files_changed=[
                    {"path": "widgets.txt", "change": "added", "additions": 1, "deletions": 0}
                ],
            )
        )
        pr_id = await conn.scalar(
            insert(pull_requests)
            .values(
                id=uuid4(),
                run_id=run_id,
                task_id=task_id,
                state="requested",
                head_branch=branch,
                base_branch="main",
                requested_by="t",
            )
            .returning(pull_requests.c.id)
        )
    return {"run_id": run_id, "pr_id": pr_id, "branch": branch, "url": url}


def _later() -> Any:
    from sqlalchemy import func, text

    return func.now() + text("interval '1 minute'")


async def _bundle(
    world: World, tmp_path: Path, url: str, branch: str, change: str, run_id: UUID
) -> str:
    work = tmp_path / f"work-{run_id}"
    git("clone", "-q", str(world.github.repo_path(REPO)), str(work), cwd=tmp_path)
    git("checkout", "-q", "-b", branch, cwd=work)
    (work / "widgets.txt").write_text(change)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "widgets", cwd=work)
    bundle = tmp_path / f"{run_id}.bundle"
    git("bundle", "create", "-q", str(bundle), f"origin/main..{branch}", cwd=work)
    store = LocalArtifactStore(tmp_path / "artifacts")
    return await store.put(f"artifacts/{run_id}/turn-1/branch.bundle", bundle.read_bytes(), "x")


async def pr_row(world: World, pr_id: UUID) -> dict[str, Any]:
    """The pull request record."""
    async with world.engine.connect() as conn:
        row = (await conn.execute(select(pull_requests).where(pull_requests.c.id == pr_id))).one()
    return dict(row._mapping)


async def notes(world: World, run_id: UUID) -> list[str]:
    """Progress messages recorded on the run."""
    async with world.engine.connect() as conn:
        rows = await conn.execute(
            select(run_events.c.data)
            .where(run_events.c.run_id == run_id)
            .order_by(run_events.c.seq)
        )
        return [r.data["message"] for r in rows]


async def test_publish_pushes_the_branch_and_opens_one_pr(world: World, tmp_path: Path) -> None:
    run = await a_finished_run(world, tmp_path, "blue widgets\n")
    await world.publisher.publish(run["pr_id"])

    (pull,) = world.github.pulls[REPO]
    record = await pr_row(world, run["pr_id"])
    assert (pull.head, pull.base, pull.title) == (run["branch"], "main", "Add widgets")
    assert "> add widgets" in pull.body
    assert "## Checklist" in pull.body  # the repository's PR template
    assert "`widgets.txt`" in pull.body
    assert world.github.branch_sha(REPO, run["branch"]) == record["head_sha"]
    assert (record["state"], record["number"]) == ("open", 1)
    assert (await notes(world, run["run_id"]))[-1].startswith("pull request #1 is open")


async def test_second_publish_updates_the_same_pr(world: World, tmp_path: Path) -> None:
    run = await a_finished_run(world, tmp_path, "red widgets\n")
    await world.publisher.publish(run["pr_id"])
    await world.publisher.publish(run["pr_id"])

    assert len(world.github.pulls[REPO]) == 1
    methods = [(m, p.rsplit("/", 1)[-1]) for m, p, _ in world.github.calls if "/pulls" in p]
    assert ("POST", "pulls") in methods
    assert ("PATCH", "1") in methods


async def test_ci_status_follows_check_runs_and_spares_the_rate_limit(
    world: World, tmp_path: Path
) -> None:
    run = await a_finished_run(world, tmp_path, "green widgets\n")
    await world.publisher.publish(run["pr_id"])
    sha = (await pr_row(world, run["pr_id"]))["head_sha"]
    async with httpx.AsyncClient(base_url=world.base_url) as control:
        await control.post(
            "/_control/ci",
            json={
                "sha": sha,
                "check_runs": [{"name": "tests", "status": "in_progress", "conclusion": None}],
            },
        )
        await world.poller.poll_once()
        pending = (await pr_row(world, run["pr_id"]))["ci_status"]
        await control.post(
            "/_control/ci",
            json={
                "sha": sha,
                "check_runs": [{"name": "tests", "status": "completed", "conclusion": "success"}],
            },
        )
        await world.poller.poll_once()
        passed = (await pr_row(world, run["pr_id"]))["ci_status"]
        before = len(await notes(world, run["run_id"]))
        await world.poller.poll_once()

    assert (pending, passed) == ("pending", "success")
    assert [s for _, p, s in world.github.calls if p.endswith("check-runs")][-1] == 304
    assert len(await notes(world, run["run_id"])) == before  # unchanged: nothing recorded
    assert (await notes(world, run["run_id"]))[-1] == "pull request #1: open, CI success"


async def test_rate_limit_is_waited_out_not_failed(world: World, tmp_path: Path) -> None:
    run = await a_finished_run(world, tmp_path, "slow widgets\n")
    async with httpx.AsyncClient(base_url=world.base_url) as control:
        await control.post("/_control/rate-limit", json={"remaining": 0, "reset_in": 1.5})
    await world.publisher.publish(run["pr_id"])

    assert (await pr_row(world, run["pr_id"]))["state"] == "open"
    assert any(status == 403 for _, _, status in world.github.calls)


async def test_permanent_error_ends_with_a_clear_message_and_no_retry_loop(
    world: World, tmp_path: Path
) -> None:
    run = await a_finished_run(world, tmp_path, "forbidden widgets\n")
    async with httpx.AsyncClient(base_url=world.base_url) as control:
        await control.post(
            "/_control/fail",
            json={
                "method": "POST",
                "path": f"/repos/{REPO}/pulls",
                "status": 403,
                "message": "Resource not accessible by integration",
            },
        )
    await world.publisher.publish(run["pr_id"])

    record = await pr_row(world, run["pr_id"])
    assert (record["state"], record["error"]) == (
        "failed",
        "Resource not accessible by integration",
    )
    posts = [c for c in world.github.calls if c[0] == "POST" and c[1].endswith("/pulls")]
    assert posts == [("POST", f"/api/v3/repos/{REPO}/pulls", 403)]
    assert "could not be opened: Resource not accessible" in (await notes(world, run["run_id"]))[-1]


async def test_push_never_stores_or_logs_the_token(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await a_finished_run(world, tmp_path, "secret widgets\n")
    await world.publisher.publish(run["pr_id"])

    assert (await pr_row(world, run["pr_id"]))["state"] == "open"
    stored = await asyncio.to_thread(
        subprocess.run,
        ["grep", "-r", "-l", TOKEN, str(world.workspaces.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stored.stdout == ""
    listed = await asyncio.to_thread(
        subprocess.run,
        ["git", "config", "--list", "--show-origin"],
        cwd=world.workspaces.mirror_path(run["url"]),
        capture_output=True,
        text=True,
        check=True,
    )
    config = listed.stdout
    assert TOKEN not in config
    assert "x-access-token" not in config
    assert TOKEN not in capsys.readouterr().out


async def test_a_pre_push_hook_or_insteadof_planted_by_the_run_cannot_take_the_token(
    world: World, tmp_path: Path
) -> None:
    run = await a_finished_run(world, tmp_path, "trapped widgets\n")
    bundle = await LocalArtifactStore(tmp_path / "artifacts").get(
        await _job_bundle_uri(world, run["run_id"])
    )
    # The run's repository on this worker, as an unjailed agent could leave it, and the
    # shared mirror's config and hooks written the same way.
    worktree = await world.workspaces.prepare(
        run["url"], str(run["run_id"]), run["branch"], "main", bundle
    )
    trap = tmp_path / "trap.git"
    git("init", "-q", "--bare", str(trap), cwd=tmp_path)
    caught = tmp_path / "caught-environment.txt"
    hook = f"#!/bin/sh\nenv > {caught}\ncat > /dev/null\n"
    mirror = world.workspaces.mirror_path(run["url"])
    for repo in (
        Path(git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=worktree).strip()),
        mirror,
    ):
        git("config", f"url.file://{trap}.insteadOf", run["url"], cwd=repo)
        git("config", f"url.file://{trap}.pushInsteadOf", run["url"], cwd=repo)
        (repo / "hooks").mkdir(exist_ok=True)
        (repo / "hooks" / "pre-push").write_text(hook)
        (repo / "hooks" / "pre-push").chmod(0o755)

    await world.publisher.publish(run["pr_id"])

    record = await pr_row(world, run["pr_id"])
    assert record["state"] == "open", record
    assert world.github.branch_sha(REPO, run["branch"]) == record["head_sha"]
    assert not caught.exists()
    assert git("for-each-ref", cwd=trap) == ""
    assert not list((world.workspaces.root / "pushes").iterdir())  # the clean repo is gone


async def test_a_template_linking_out_of_the_repository_never_reaches_the_pr(
    world: World, tmp_path: Path
) -> None:
    secret = tmp_path / "secrets.json"
    secret.write_text('{"dapr_api_token": "SECRET-OF-THE-RUNNER"}\n')
    work = tmp_path / "link-author"
    git("clone", "-q", str(world.github.repo_path(REPO)), str(work), cwd=tmp_path)
    template = work / ".github" / "pull_request_template.md"
    template.unlink()
    template.symlink_to(secret)
    git("commit", "-qam", "a template that is a link", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    run = await a_finished_run(world, tmp_path, "linked widgets\n")

    await world.publisher.publish(run["pr_id"])

    (pull,) = world.github.pulls[REPO]
    assert (await pr_row(world, run["pr_id"]))["state"] == "open"
    assert "SECRET-OF-THE-RUNNER" not in pull.body
    assert "> add widgets" in pull.body  # dursor's own section is there, the link is not


async def _job_bundle_uri(world: World, run_id: UUID) -> str:
    async with world.engine.connect() as conn:
        uri = await conn.scalar(select(runs.c.bundle_uri).where(runs.c.id == run_id))
    assert uri is not None
    return str(uri)


def test_overall_status_rules() -> None:
    assert overall_status([], []) == "unknown"
    assert (
        overall_status([{"status": "completed", "conclusion": "success"}], [{"state": "success"}])
        == "success"
    )
    assert overall_status([{"status": "in_progress", "conclusion": None}], []) == "pending"
    assert (
        overall_status([{"status": "completed", "conclusion": "success"}], [{"state": "failure"}])
        == "failure"
    )
