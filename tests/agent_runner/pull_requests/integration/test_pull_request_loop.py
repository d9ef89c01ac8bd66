"""The pull-request loop's store and runner against real PostgreSQL and the GitHub stand-in.

run-api's part is what its webhook intake calls (`pr_loop.record_ci_failure`,
`pr_loop.add`); agent-runner's part is `PullRequestLoop.advance`, reading job logs and
review threads from the stand-in and writing replies, resolutions and comments to it.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.git.workspaces import Workspaces
from agent_runner.pull_requests.ci_status import CiPoller
from agent_runner.pull_requests.github import GitHubClient
from agent_runner.pull_requests.loop import PullRequestLoop
from agent_runner.pull_requests.loop_github import LoopGitHub
from agent_runner.pull_requests.publisher import PullRequestPublisher
from dursor_contracts.pull_requests import CiStatus, LoopTriggerKind
from dursor_kit.artifacts import LocalArtifactStore
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_store import pr_loop
from dursor_store.pr_loop import NewTrigger
from dursor_store.schema import pr_loop_triggers, pull_requests, repos, run_events, runs, tasks
from run_api.github.loop_intake import CiVerdict, LoopIntake, ReviewAsk
from tests.agent_runner.pull_requests.integration.test_pull_requests import (
    REPO,
    TOKEN,
    World,
    a_finished_run,
    pr_row,
)
from tests.standins.github import GitHubRepos, InlineComment, failing
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.git_remote import make_remote

WIDGETS = "".join(f"widget {n}\n" for n in range(1, 8))


async def opened(world: World, tmp_path: Path, max_rounds: int = 2) -> dict[str, Any]:
    """A succeeded run whose PR is open, on a repository that fixes CI automatically."""
    run = await a_finished_run(world, tmp_path, WIDGETS)
    async with world.engine.begin() as conn:
        task_id = await conn.scalar(select(runs.c.task_id).where(runs.c.id == run["run_id"]))
        repo_id = await conn.scalar(select(tasks.c.repo_id).where(tasks.c.id == task_id))
        await conn.execute(
            update(repos)
            .where(repos.c.id == repo_id)
            .values(auto_fix_ci=True, auto_fix_ci_max_rounds=max_rounds)
        )
    await world.publisher.publish(run["pr_id"])
    return run | {"head": (await pr_row(world, run["pr_id"]))["head_sha"]}


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[World]:
    """The stand-in served where its links (job-log downloads) point, and dursor's PR side."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    github = GitHubRepos(
        tmp_path / "github", token_ok=lambda token, _repo: token == TOKEN, public_url=base_url
    )
    (tmp_path / "github" / "acme").mkdir(parents=True)
    shutil.move(str(make_remote(tmp_path / "seed")), github.repo_path(REPO))
    workspaces = Workspaces(tmp_path / "workspaces")
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    async with httpx.AsyncClient() as http, serve(github.app(), port):

        async def tokens(_: str) -> str:
            return TOKEN

        def clients(token: str) -> GitHubClient:
            return GitHubClient(http, f"{base_url}/api/v3", token)

        hosts = [f"127.0.0.1:{port}"]
        transactions = Transactions(engine, PolledOutbox("agent-runner"))
        publisher = PullRequestPublisher(
            transactions, workspaces, artifacts, tokens, clients, hosts
        )
        poller = CiPoller(transactions, tokens, clients, hosts)
        yield World(github, base_url, publisher, poller, engine, workspaces)


@pytest.fixture
async def loop(world: World) -> AsyncIterator[PullRequestLoop]:
    """The runner's loop wired to the stand-in."""

    async def tokens(_: str) -> str:
        return TOKEN

    transactions = Transactions(world.engine, PolledOutbox("agent-runner"))
    async with httpx.AsyncClient() as http:
        yield PullRequestLoop(
            transactions,
            tokens,
            lambda token: LoopGitHub(http, f"{world.base_url}/api/v3", token),
            [world.base_url.removeprefix("http://")],
        )


async def ci_failed(world: World, pr_id: UUID, head: str, source: str) -> str | None:
    """What run-api records for a failed check suite on the head."""
    transactions = Transactions(world.engine, PolledOutbox("run-api"))
    async with transactions.begin() as work:
        pr = await pr_loop.of_id(work.conn, pr_id)
        assert pr is not None
        return await pr_loop.record_ci_failure(work, pr, head, source, f"d-{source}")


async def progress(world: World, run_id: UUID) -> list[str]:
    """The run's progress messages, in order."""
    async with world.engine.connect() as conn:
        rows = await conn.execute(
            select(run_events.c.data)
            .where(run_events.c.run_id == run_id, run_events.c.type == "progress")
            .order_by(run_events.c.seq)
        )
        return [r.data["message"] for r in rows]


async def triggers(engine: AsyncEngine, pr_id: UUID) -> list[dict[str, Any]]:
    """The PR's triggers, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(pr_loop_triggers)
            .where(pr_loop_triggers.c.pull_request_id == pr_id)
            .order_by(pr_loop_triggers.c.created_at)
        )
        return [dict(r._mapping) for r in rows]


async def run_row(engine: AsyncEngine, run_id: UUID) -> dict[str, Any]:
    """The run."""
    async with engine.connect() as conn:
        return dict((await conn.execute(select(runs).where(runs.c.id == run_id))).one()._mapping)


async def end_turn(engine: AsyncEngine, run_id: UUID, commit_sha: str) -> None:
    """The queued turn runs and succeeds with `commit_sha` (as the runner would record it)."""
    async with engine.begin() as conn:
        await conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="running",
                lease_owner="w",
                lease_expires_at=func.now() + text("interval '1 minute'"),
            )
        )
        await conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="succeeded", lease_owner=None, lease_expires_at=None, commit_sha=commit_sha
            )
        )


async def test_failed_ci_becomes_one_turn_with_the_failed_steps_log(
    world: World, loop: PullRequestLoop, tmp_path: Path
) -> None:
    run = await opened(world, tmp_path)
    log = "collected 7 items\nE   AssertionError: widget 3 is blue\n1 failed, 6 passed"
    await world.github.ci.run(REPO, run["head"], failing("Run tests", log), run["branch"])
    first = await ci_failed(world, run["pr_id"], run["head"], "check-suite:1")
    again = await ci_failed(world, run["pr_id"], run["head"], "status:ci/other")
    await loop.advance(run["pr_id"])
    await loop.advance(run["pr_id"])  # the run is busy now: nothing more happens

    (trigger,) = await triggers(world.engine, run["pr_id"])
    assert first == f"loop trigger on #1: CI failed on {run['head'][:12]} (fix round 1 of 2)"
    assert again is None  # one head, one round, whatever the number of failing sources
    assert (trigger["state"], trigger["turn"], trigger["round"]) == ("sent", 2, 1)
    sent = trigger["sent_text"]
    assert "E   AssertionError: widget 3 is blue" in sent
    assert "Job `test`, failed step: `Run tests`" in sent
    assert "Details: " in sent
    assert "/actions/runs/" in sent
    state = await run_row(world.engine, run["run_id"])
    assert (state["status"], state["turn"]) == ("queued", 2)
    assert (await pr_row(world, run["pr_id"]))["ci_fix_rounds"] == 1
    assert any(
        "CI fix round 1 of 2" in n and "widget 3 is blue" in n
        for n in await progress(world, run["run_id"])
    )


async def test_a_review_sends_every_unresolved_thread_then_answers_and_resolves_them(
    world: World, loop: PullRequestLoop, tmp_path: Path
) -> None:
    run = await opened(world, tmp_path)
    github = world.github
    early = await github.submit_review(
        REPO, 1, "ann", "COMMENTED", comments=[InlineComment("widgets.txt", 7, "settled")]
    )
    (settled,) = github.threads(REPO, 1)
    await github.resolve(settled.node_id, "ann")
    asks = [InlineComment("widgets.txt", n, f"rename widget {n}") for n in (1, 3, 5)]
    review = await github.submit_review(REPO, 1, "octo", "CHANGES_REQUESTED", "Names.", asks)
    transactions = Transactions(world.engine, PolledOutbox("run-api"))
    async with transactions.begin() as work:
        pr = await pr_loop.of_id(work.conn, run["pr_id"])
        assert pr is not None
        new = NewTrigger(
            kind=LoopTriggerKind.REVIEW,
            key=f"review:{review.id}",
            source=str(review.id),
            author="octo",
        )
        assert await pr_loop.add(work, pr, new) is not None
        assert await pr_loop.add(work, pr, new) is None  # the same review told twice
    await loop.advance(run["pr_id"])

    (trigger,) = await triggers(world.engine, run["pr_id"])
    open_threads = [t for t in github.threads(REPO, 1) if not t.is_resolved]
    assert [t["id"] for t in trigger["threads"]] == [t.node_id for t in open_threads]
    sent = trigger["sent_text"]
    assert "3 unresolved review threads" in sent
    assert [f"rename widget {n}" in sent for n in (1, 3, 5)] == [True] * 3
    assert "settled" not in sent
    assert early.id != review.id
    assert "The review says:\nNames." in sent

    await end_turn(world.engine, run["run_id"], run["head"])
    await loop.advance(run["pr_id"])
    replies = [a for a in github.thread_actions if a.kind == "reply"]
    resolved = [a for a in github.thread_actions if a.kind == "resolve" and a.by == "dursor[bot]"]
    assert sorted(a.thread_id for a in replies) == sorted(t.node_id for t in open_threads)
    assert all(f"/commit/{run['head']}" in a.body for a in replies)
    assert sorted(a.thread_id for a in resolved) == sorted(t.node_id for t in open_threads)
    assert all(t.is_resolved for t in github.threads(REPO, 1))
    (done,) = await triggers(world.engine, run["pr_id"])
    assert done["state"] == "done"
    assert "replied in 3 threads and resolved" in done["outcome"]


async def test_ci_still_red_after_the_last_round_says_so_once(
    world: World, loop: PullRequestLoop, tmp_path: Path
) -> None:
    run = await opened(world, tmp_path, max_rounds=1)
    await world.github.ci.run(REPO, run["head"], failing(), run["branch"])
    async with world.engine.begin() as conn:
        await conn.execute(
            update(pull_requests).where(pull_requests.c.id == run["pr_id"]).values(ci_fix_rounds=1)
        )
    stopped = await ci_failed(world, run["pr_id"], run["head"], "check-suite:1")
    await loop.advance(run["pr_id"])
    await loop.advance(run["pr_id"])
    later = await ci_failed(world, run["pr_id"], "f" * 40, "check-suite:2")

    comments = world.github.issue_comments(REPO, 1)
    assert stopped == "loop stopped on #1: CI is still red after 1 fix rounds"
    assert later is None  # a stopped loop takes no more rounds
    assert len(comments) == 1
    assert "still fail" in comments[0].body
    assert "after 1 automatic fix rounds" in comments[0].body
    (trigger,) = await triggers(world.engine, run["pr_id"])
    assert trigger["state"] == "stopped"
    assert (await run_row(world.engine, run["run_id"]))["turn"] == 1  # no turn was queued


async def test_a_green_rerun_a_newer_head_and_a_closed_pr_cancel_what_waits(
    world: World, tmp_path: Path
) -> None:
    run = await opened(world, tmp_path)

    async def anyone_writes(_repo_url: str, _login: str) -> bool:
        return True

    intake = LoopIntake(Transactions(world.engine, PolledOutbox("run-api")), anyone_writes)
    head, newer = run["head"], "e" * 40
    pr = await pr_row(world, run["pr_id"])
    failed = CiVerdict(head, "check-suite:1", CiStatus.FAILURE)
    assert await intake.on_ci(failed, "d1")
    assert await intake.on_ci(CiVerdict(head, "check-suite:1", CiStatus.SUCCESS), "d2")
    async with world.engine.begin() as conn:
        await conn.execute(
            update(pull_requests).where(pull_requests.c.id == run["pr_id"]).values(head_sha=newer)
        )
    assert await intake.on_ci(CiVerdict(newer, "status:ci/legacy", CiStatus.FAILURE), "d3")
    moved = {"action": "synchronize", "after": "f" * 40, "pull_request": {"html_url": pr["url"]}}
    assert await intake.on_pull_request(moved)
    review = ReviewAsk(pr["url"], 42, "octo")
    assert await intake.on_review(review, "d4") == "follow-up"
    closed = {"action": "closed", "pull_request": {"html_url": pr["url"], "merged": True}}
    assert await intake.on_pull_request(closed)

    found = await triggers(world.engine, run["pr_id"])
    assert [(t["trigger_key"], t["state"], t["outcome"]) for t in found] == [
        (f"ci:{head}", "cancelled", "CI passed on a re-run"),
        (f"ci:{newer}", "cancelled", "a newer head commit"),
        ("review:42", "cancelled", "the pull request was merged"),
    ]
    assert (await pr_row(world, run["pr_id"]))["loop_stopped"] == "the pull request was merged"
    notes = await progress(world, run["run_id"])
    assert "loop on #1: CI passed on a re-run, the pending fix is cancelled" in notes
    assert "loop stopped on #1: the pull request was merged" in notes
