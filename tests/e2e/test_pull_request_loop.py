"""The pull-request loop through the whole platform, the GitHub stand-in and the real agent CLIs.

One platform for the module: webhooks from the stand-in (signed, through the gateway)
reach run-api, which records loop triggers; agent-runner reads job logs and review
threads from the stand-in, queues one turn per trigger, and after the push replies in
the threads, resolves them, or says on the PR that the loop stopped. CI here behaves
like a real CI: it runs on a head commit only after dursor has pushed and recorded it
(the test follows the heads dursor records), and passes once the agent wrote FIXED.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from dursor_kit.secret_names import GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET
from dursor_store import schema as tables
from tests.conftest import running_platform
from tests.e2e.test_pull_request_flow import app_key_pair
from tests.standins.agent_clis import cli_path
from tests.standins.github import CiScript, GitHubRepos, InlineComment, failing, passing
from tests.standins.model_server import ModelServer, Reply, WriteFile, serving
from tests.support.asgi_server import serve
from tests.support.backing import Backing, free_port, redis_process
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import make_remote
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

KINDS = ("claude_code", "codex", "gemini")
WIRE = {"claude_code": "anthropic", "codex": "openai-responses", "gemini": "gemini"}
PROFILES = {
    "claude_code": ("anthropic", "claude-sonnet-4-5", ""),
    "codex": ("openai", "gpt-5-codex", "/v1"),
    "gemini": ("google", "gemini-2.5-pro", ""),
}
REPOS = [*(f"acme/ci-{k}" for k in KINDS), "acme/red", "acme/review", "acme/reader"]
ROLES = {"octo": "write", "reader": "read"}
FIRST = "add a note please"
LINES = "write four lines please"
CI_BRIEF = "CI failed on this pull request's head commit"
REVIEW_BRIEF = "unresolved review threads below"
ONE_MORE = "The review says:\n@dursor one more"
FAILED_OUTPUT = "E   AssertionError: FIXED.md is missing\n1 failed, 4 passed"
TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}


@dataclass
class World:
    """The platform, the GitHub stand-in and the model stand-in of the module."""

    platform: Platform
    github: GitHubRepos
    server: ModelServer
    model_url: str
    repo_url: Callable[[str], str]


@pytest.fixture(scope="module")
async def world(
    backing: Backing, databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """A platform pointed at the GitHub stand-in (as GHES) and at the scripted model server."""
    workdir = tmp_path_factory.mktemp("pr-loop")
    private_key, public_key = app_key_pair()
    port = free_port()
    host = f"127.0.0.1:{port}"
    github = GitHubRepos(
        workdir / "github",
        public_url=f"http://{host}",
        app_public_key=public_key,
        installations={repo: 70 + i for i, repo in enumerate(REPOS)},
        collaborators={repo: dict(ROLES) for repo in REPOS},
    )
    (workdir / "github" / "acme").mkdir(parents=True)
    for repo in REPOS:
        seed = make_remote(workdir / "seeds" / repo.replace("/", "-"))
        shutil.move(str(seed), github.repo_path(repo))
    server = ModelServer(
        scripts={
            FIRST: [WriteFile("NOTES.md", "hello from the agent\n"), Reply("Added NOTES.md.")],
            LINES: [WriteFile("LINES.md", "alpha\nbeta\ngamma\ndelta\n"), Reply("Wrote lines.")],
            CI_BRIEF: [WriteFile("FIXED.md", "fixed\n"), Reply("Fixed the failing test.")],
            REVIEW_BRIEF: [WriteFile("REVIEWED.md", "renamed\n"), Reply("Addressed the review.")],
            ONE_MORE: [WriteFile("MORE.md", "one more\n"), Reply("Added one more.")],
        }
    )
    env = {
        "DURSOR_GITHUB_API_URL": f"http://{host}/api/v3",
        "DURSOR_GITHUB_HOSTS": json.dumps([host]),
        "DURSOR_INSECURE_REPO_HOSTS": json.dumps([host]),
        "DURSOR_CLAUDE_COMMAND": json.dumps([cli_path("claude")]),
        "DURSOR_CODEX_COMMAND": json.dumps([cli_path("codex")]),
        "DURSOR_GEMINI_COMMAND": json.dumps([cli_path("gemini")]),
    }
    # A Redis of its own: the module's streams outlive any other run's flush of shared DBs.
    with redis_process() as (redis_host, _):
        async with (
            serve(github.app(), port),
            serving(server) as model_url,
            running_platform(
                backing, databases, workdir, env, start=False, redis_host=redis_host
            ) as platform,
        ):
            await _started(platform, private_key)
            hook = f"{platform.gateway.url}/v1/github/webhook"
            github.hooks.configure(hook, platform.secrets[GITHUB_WEBHOOK_SECRET])
            repo_url = f"http://{host}/{{}}.git".format
            yield World(platform, github, server, model_url, repo_url)


async def _started(platform: Platform, private_key: str) -> None:
    """The platform with the GitHub App's id and key in its secret store."""
    platform.add_secrets({GITHUB_APP_ID: "4242", GITHUB_APP_PRIVATE_KEY: private_key})
    await platform.start_all()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway client with an admin token (model profiles need Admin)."""
    headers = {"authorization": f"Bearer {world.platform.mint_token('admin')}"}
    async with httpx.AsyncClient(
        base_url=world.platform.gateway.url, headers=headers, timeout=60
    ) as http:
        yield http


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 180.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met in {timeout}s")


async def profile_for(client: httpx.AsyncClient, world: World, kind: str) -> str:
    """A model profile pointing one CLI at the scripted model server."""
    provider, model, suffix = PROFILES[kind]
    body = {
        "name": f"loop {kind}",
        "provider": provider,
        "model": model,
        "base_url": f"{world.model_url}{suffix}",
        "api_key": f"sk-loop-{provider}-key",
    }
    created = await client.post("/v1/model-profiles", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def pull_request_of(
    client: httpx.AsyncClient,
    world: World,
    repo: str,
    executor: dict[str, Any],
    instruction: str = FIRST,
    **settings: Any,
) -> dict[str, Any]:
    """Repository (with loop settings), task, a run's first turn, and its open PR."""
    made = await client.post("/v1/repos", json={"url": world.repo_url(repo), **settings})
    assert made.status_code == 201, made.text
    task = await client.post("/v1/tasks", json={"repo_id": made.json()["id"], "title": repo})
    accepted = await client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={"instruction": instruction, "executors": [executor]},
    )
    assert accepted.status_code == 202, accepted.text
    run = accepted.json()["runs"][0]
    first = await turn_ended(client, run["id"], 1)
    assert first["status"] == "succeeded", first
    assert (await client.post(f"/v1/runs/{run['id']}/pull-request")).status_code == 202

    async def opened() -> dict[str, Any] | None:
        prs = (await client.get(f"/v1/tasks/{task.json()['id']}/pull-requests")).json()["items"]
        return prs[0] if prs and prs[0]["state"] == "open" and prs[0]["head_sha"] else None

    return {"repo": repo, "run": run, "task": task.json(), "pr": await until(opened)}


async def turn_ended(client: httpx.AsyncClient, run_id: str, turn: int) -> dict[str, Any]:
    """The run once its `turn` reached a terminal status."""

    async def ended() -> dict[str, Any] | None:
        run: dict[str, Any] = (await client.get(f"/v1/runs/{run_id}")).json()
        return run if run["turn"] == turn and run["status"] in TERMINAL else None

    found: dict[str, Any] = await until(ended)
    return found


@contextlib.asynccontextmanager
async def ci_on_each_head(
    client: httpx.AsyncClient, world: World, task_id: str, script: Callable[[str, str], CiScript]
) -> AsyncIterator[list[str]]:
    """Run CI on every head commit dursor records for the task's PR, as GitHub Actions would."""
    ran: list[str] = []

    async def follow() -> None:
        while True:
            prs = (await client.get(f"/v1/tasks/{task_id}/pull-requests")).json()["items"]
            pr = prs[0] if prs else None
            if pr and pr["state"] == "open" and pr["head_sha"] and pr["head_sha"] not in ran:
                ran.append(pr["head_sha"])
                repo = pr["url"].split("/pull/")[0].split("/", 3)[3]
                await world.github.ci.run(
                    repo, pr["head_sha"], script(repo, pr["head_sha"]), pr["head_branch"]
                )
            await asyncio.sleep(0.3)

    task = asyncio.create_task(follow())
    try:
        yield ran
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def loop_of(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """The loop state of the run's PR, through the public API."""
    answer = await client.get(f"/v1/runs/{run_id}/pull-request/loop")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def progress(client: httpx.AsyncClient, run_id: str) -> list[str]:
    """The run's progress messages, in order."""
    events = (await client.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()
    return [e["data"]["message"] for e in events if e["type"] == "progress"]


async def session_of(world: World, run_id: str) -> str | None:
    """The agent session the runner keeps for a run."""
    engine = create_async_engine(world.platform.database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(tables.runs.c.session_id).where(tables.runs.c.id == run_id)
            )
    finally:
        await engine.dispose()
    return None if found is None else str(found)


@pytest.mark.parametrize("kind", KINDS)
async def test_failed_ci_goes_back_once_with_its_log_and_green_ends_the_loop(
    world: World, client: httpx.AsyncClient, kind: str
) -> None:
    executor = {"type": kind, "model_profile_id": await profile_for(client, world, kind)}

    def ci(repo: str, sha: str) -> CiScript:
        fixed = world.github.git.read(repo, sha, "FIXED.md") is not None
        return passing() if fixed else failing("Run tests", FAILED_OUTPUT)

    repo = f"acme/ci-{kind}"
    made = await pull_request_of(client, world, repo, executor, auto_fix_ci=True)
    run_id = made["run"]["id"]
    session = await session_of(world, run_id)
    async with ci_on_each_head(client, world, made["task"]["id"], ci) as heads:

        async def green() -> dict[str, Any] | None:
            prs = (await client.get(f"/v1/tasks/{made['task']['id']}/pull-requests")).json()
            pr = prs["items"][0]
            return pr if pr["ci_status"] == "success" and len(heads) == 2 else None

        pr = await until(green)
        loop = await until(lambda: _settled(client, run_id))

    (trigger,) = loop["triggers"]
    assert (loop["state"], loop["ci_fix_rounds"], loop["auto_fix_ci_max_rounds"]) == ("idle", 1, 3)
    assert (trigger["kind"], trigger["state"], trigger["turn"], trigger["round"]) == (
        "ci", "done", 2, 1,
    )  # fmt: skip
    assert trigger["head_sha"] == heads[0]
    assert pr["head_sha"] == heads[1]
    assert "E   AssertionError: FIXED.md is missing" in trigger["sent"]
    assert "Job `test`, failed step: `Run tests`" in trigger["sent"]
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    assert (run["turn"], run["status"]) == (2, "succeeded")
    # Exactly one follow-up reached the model, carrying the excerpt, in the same session.
    briefs = {
        i for r in world.server.by(WIRE[kind]) for i in r.conversation.instructions if CI_BRIEF in i
    }
    assert briefs == {trigger["sent"]}
    resumed = [r.conversation.instructions for r in world.server.by(WIRE[kind])]
    assert any(t[-2:] == (FIRST, trigger["sent"]) for t in resumed), resumed
    assert await session_of(world, run_id) == session
    assert session
    notes = await progress(client, run_id)
    assert any("CI fix round 1 of 3" in n and "FIXED.md is missing" in n for n in notes)
    assert any(n.startswith("loop round on #1 (ci) done: pushed") for n in notes)


async def _settled(client: httpx.AsyncClient, run_id: str) -> dict[str, Any] | None:
    loop = await loop_of(client, run_id)
    busy = any(t["state"] in ("pending", "sent") for t in loop["triggers"])
    return None if busy or loop["state"] != "idle" else loop


async def test_ci_that_stays_red_stops_after_n_rounds_and_says_so_once(
    world: World, client: httpx.AsyncClient
) -> None:
    executor = {"type": "command", "options": {"template": "append-note"}}
    made = await pull_request_of(
        client, world, "acme/red", executor, auto_fix_ci=True, auto_fix_ci_max_rounds=2
    )
    run_id = made["run"]["id"]

    def always_red(_repo: str, _sha: str) -> CiScript:
        return failing("Run tests", FAILED_OUTPUT)

    async def stopped() -> dict[str, Any] | None:
        loop = await loop_of(client, run_id)
        said = [t for t in loop["triggers"] if t["state"] == "stopped"]
        return loop if said else None

    async with ci_on_each_head(client, world, made["task"]["id"], always_red) as heads:
        loop = await until(stopped)
        # The last red result told again (a redelivery and a re-run) changes nothing.
        last = world.github.hooks.of("check_suite", "completed")[-1]
        await world.github.hooks.redeliver(last.guid)
        await world.github.ci.rerun(last.payload["check_suite"]["id"], always_red("", ""))

    comments = world.github.issue_comments("acme/red", 1)
    assert len(comments) == 1, [c.body for c in comments]
    assert "after 2 automatic fix rounds" in comments[0].body
    assert "`test`" in comments[0].body
    assert (loop["state"], loop["ci_fix_rounds"]) == ("stopped", 2)
    assert loop["stopped_reason"] == "CI is still red after 2 fix rounds"
    assert [(t["state"], t["round"]) for t in loop["triggers"]] == [
        ("done", 1), ("done", 2), ("stopped", None),
    ]  # fmt: skip
    assert len(heads) == 3
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    assert (run["turn"], run["status"]) == (3, "succeeded")
    assert any(n.startswith("loop stopped on #1") for n in await progress(client, run_id))


async def test_a_review_sends_its_open_threads_once_then_answers_and_resolves_them(
    world: World, client: httpx.AsyncClient
) -> None:
    github, repo = world.github, "acme/review"
    executor = {
        "type": "claude_code",
        "model_profile_id": await profile_for(client, world, "claude_code"),
    }
    made = await pull_request_of(client, world, repo, executor, instruction=LINES)
    run_id = made["run"]["id"]
    await github.submit_review(
        repo, 1, "octo", "COMMENTED", comments=[InlineComment("LINES.md", 4, "delta is fine")]
    )
    (settled,) = github.threads(repo, 1)
    await github.resolve(settled.node_id, "octo")

    world.server.gate = asyncio.Event()
    asks = [
        InlineComment("LINES.md", 1, "rename alpha"),
        InlineComment("LINES.md", 2, "@dursor rename beta"),
        InlineComment("LINES.md", 3, "rename gamma"),
    ]
    try:
        review = await github.submit_review(repo, 1, "octo", "CHANGES_REQUESTED", "Names.", asks)
        await until(lambda: _model_asked(world, REVIEW_BRIEF))
        # While that turn runs: the same delivery again, and a second review.
        first = github.hooks.of("pull_request_review", "submitted")[-1]
        again = await github.hooks.redeliver(first.guid)
        later = await github.submit_review(
            repo, 1, "octo", "COMMENTED", "@dursor one more", [InlineComment("LINES.md", 4, "d!")]
        )
        waiting = await loop_of(client, run_id)
    finally:
        world.server.gate.set()
        world.server.gate = None
    loop = await until(lambda: _settled(client, run_id))

    assert (again.status, json.loads(again.response)) == (200, {"outcome": "duplicate"})
    mention = [
        d for d in github.hooks.of("pull_request_review_comment") if "@dursor" in d.body.decode()
    ]
    assert [json.loads(d.response)["outcome"] for d in mention] == ["duplicate"]
    assert [(t["trigger"], t["state"]) for t in waiting["triggers"]] == [
        (f"review:{review.id}", "sent"), (f"review:{later.id}", "pending"),
    ]  # fmt: skip
    asked, then = loop["triggers"]
    threads = {t.node_id: t for t in github.threads(repo, 1)}
    three = [i for i, t in threads.items() if t.line in (1, 2, 3)]
    assert sorted(asked["threads"]) == sorted(three)
    assert "3 unresolved review threads" in asked["sent"]
    assert all(f"rename {w}" in asked["sent"] for w in ("alpha", "beta", "gamma"))
    assert "delta is fine" not in asked["sent"]
    assert (asked["turn"], then["turn"]) == (2, 3)
    fourth = [i for i, t in threads.items() if t.line == 4 and i != settled.node_id]
    assert then["threads"] == fourth
    replies = [a for a in github.thread_actions if a.kind == "reply" and a.by == "dursor[bot]"]
    assert sorted(a.thread_id for a in replies) == sorted(three + fourth)
    assert all("/commit/" in a.body for a in replies)
    assert all(threads[i].is_resolved for i in three + fourth)
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    assert (run["turn"], run["status"]) == (3, "succeeded")
    briefs = [
        i for r in world.server.by("anthropic") for i in r.conversation.instructions[-1:]
        if REVIEW_BRIEF in i
    ]  # fmt: skip
    assert set(briefs) == {asked["sent"], then["sent"]}


async def _model_asked(world: World, text: str) -> bool:
    return any(text in r.conversation.instruction for r in world.server.requests)


async def test_a_reader_triggers_nothing_and_a_closed_pr_stops_the_loop(
    world: World, client: httpx.AsyncClient
) -> None:
    github, repo = world.github, "acme/reader"
    executor = {"type": "command", "options": {"template": "append-note"}}
    made = await pull_request_of(client, world, repo, executor, auto_fix_ci=True)
    run_id = made["run"]["id"]
    await github.submit_review(repo, 1, "reader", "CHANGES_REQUESTED", "@dursor drop the table")
    by_reader = github.hooks.of("pull_request_review", "submitted")[-1]
    await github.close_pull(repo, 1)
    await github.submit_review(repo, 1, "octo", "CHANGES_REQUESTED", "@dursor too late")
    by_writer = github.hooks.of("pull_request_review", "submitted")[-1]

    assert json.loads(by_reader.response) == {"outcome": "ignored"}
    assert json.loads(by_writer.response) == {"outcome": "ignored"}
    loop = await loop_of(client, run_id)
    assert (loop["state"], loop["triggers"]) == ("stopped", [])
    assert loop["stopped_reason"] == "the pull request was closed"
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    assert (run["turn"], run["status"]) == (1, "succeeded")
    notes = await progress(client, run_id)
    assert "a review by reader was not run: no write permission on the repository" in notes
