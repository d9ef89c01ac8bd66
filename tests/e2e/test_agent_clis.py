"""The real agent CLIs through the whole platform: gateway → run-api → Dapr → agent-runner,
with model profiles pointing each CLI at the scripted model server and the patches stored
in Azure Blob Storage (Azurite) and served through the gateway."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.blob.aio import BlobServiceClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from dursor_store import schema as tables
from tests.agent_runner.agents.integration.test_executor_clis import BASE_ENV, CLIS
from tests.conftest import running_platform
from tests.standins.agent_clis import ProcessView, agent_processes, cli_path, processes_in
from tests.standins.azurite import running_azurite
from tests.standins.model_server import ModelServer, Recorded, Reply, WriteFile, serving
from tests.support.backing import Backing
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import git, make_remote
from tests.support.platform import Platform
from tests.support.sse import collect

pytestmark = pytest.mark.e2e

FIRST, SECOND = "add a note please", "and a second note"
GREETING = (
    "Greeting added.\n```diff\n--- a/README.md\n+++ b/README.md\n"
    "@@ -1 +1,2 @@\n # demo\n+hello from llm\n```\n"
)
PROFILES = {
    "claude_code": ("anthropic", "claude-sonnet-4-5", ""),
    "codex": ("openai", "gpt-5-codex", "/v1"),
    "gemini": ("google", "gemini-2.5-pro", ""),
}
CONTAINER = "e2e-artifacts"
JUNIT_REPORT = (
    'printf \'<testsuites><testsuite name="unit" tests="4" failures="1" errors="0">'
    "</testsuite></testsuites>' > junit.xml"
)
# The operator's price table (USD per million tokens) for the CLIs that report tokens only.
# Claude Code prices its turns itself (its own figure wins; the same $3 / $15 per million
# tokens for claude-sonnet-4-5): the table's entry prices its usage while it streams.
PRICES = {
    "gpt-5-codex": {"input_per_mtok": "1.25", "output_per_mtok": "10"},
    "gemini-2.5-pro": {"input_per_mtok": "2.5", "output_per_mtok": "15"},
    "claude-sonnet-4-5": {"input_per_mtok": "3", "output_per_mtok": "15"},
}
TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
SETUP_SECRET = "e2e-setup-secret-7f3a"


@dataclass
class World:
    """The platform, the model stand-in, Azurite, and the agent processes seen meanwhile."""

    platform: Platform
    server: ModelServer
    url: str
    azure: str
    watched: list[Path] = field(default_factory=list)
    seen: list[tuple[Recorded, list[ProcessView]]] = field(default_factory=list)

    def watch(self, run_id: str) -> None:
        """Look at the processes in this run's worktree whenever the model is asked."""
        runner = self.platform.replica("agent-runner")
        root = self.platform.workdir / "workspaces" / runner.name
        self.watched.append(root / "worktrees" / run_id)

    def observe(self, request: Recorded) -> None:
        """Called by the stand-in with each request, while the agent waits for it."""
        self.seen.append((request, [p for d in self.watched for p in processes_in(d)]))

    def agents(self) -> list[ProcessView]:
        """Every agent process seen (dursor's own guard excluded)."""
        return [p for _, views in self.seen for p in agent_processes(views)]


@pytest.fixture(scope="module")
async def world(
    backing: Backing, databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """One platform whose runner knows the CLIs and stores artifacts in Azurite."""
    workdir = tmp_path_factory.mktemp("agent-clis")
    server = ModelServer(
        scripts={
            FIRST: [WriteFile("NOTES.md", "hello from the agent\n"), Reply("Added NOTES.md.")],
            SECOND: [WriteFile("SECOND.md", "second turn\n"), Reply("Added SECOND.md.")],
            "greeting": [Reply(GREETING)],
        }
    )
    with running_azurite(workdir / "azurite") as azure:
        async with serving(server) as url:
            env = {
                "DURSOR_CLAUDE_COMMAND": json.dumps([cli_path("claude")]),
                "DURSOR_CODEX_COMMAND": json.dumps([cli_path("codex")]),
                "DURSOR_GEMINI_COMMAND": json.dumps([cli_path("gemini")]),
                "DURSOR_ARTIFACTS_BACKEND": "azure",
                "DURSOR_ARTIFACTS_CONNECTION_STRING": azure,
                "DURSOR_ARTIFACTS_CONTAINER": CONTAINER,
                "DURSOR_PRICES": json.dumps(PRICES),
            }
            async with running_platform(backing, databases, workdir, env) as platform:
                found = World(platform, server, url, azure)
                server.on_request = found.observe
                yield found


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway client with an admin token (model profiles need Admin)."""
    headers = {"authorization": f"Bearer {world.platform.mint_token('admin')}"}
    async with httpx.AsyncClient(
        base_url=world.platform.gateway.url, headers=headers, timeout=60
    ) as http:
        yield http


async def test_cli_runs_edit_resume_and_store_patches_in_blob_storage(
    world: World, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    executors = [
        {"type": kind, "model_profile_id": await _profile(client, world, kind)} for kind in PROFILES
    ]
    served_before = len(world.server.requests)
    remote = make_remote(tmp_path)
    runs = await _submit(client, remote, FIRST, executors)
    for run in runs:
        world.watch(run["id"])
    finals = await asyncio.gather(*(_until_turn_ends(client, run["id"], 1) for run in runs))
    # One submission, one base commit, recorded on each run.
    assert {f["base_commit"] for f in finals} == {git("rev-parse", "main", cwd=remote).strip()}
    turn_one = world.server.requests[served_before:]

    for run, final in zip(runs, finals, strict=True):
        assert final["status"] == "succeeded", final
        assert final["summary"] == "Added NOTES.md."
        patch = await client.get(f"/v1/runs/{run['id']}/patch")
        assert patch.status_code == 200
        assert "+hello from the agent" in patch.text
    # Each attempt writes into its own folder; the run names the one that ended the turn.
    assert await _blob_names(world) >= {
        f"artifacts/{r['id']}/turn-1/attempt-1/patch.diff" for r in runs
    }
    sessions = await _sessions(world, runs)
    assert all(sessions.values()), sessions

    served_before = len(world.server.requests)
    for run in runs:
        sent = await client.post(f"/v1/runs/{run['id']}/messages", json={"content": SECOND})
        assert sent.status_code == 202, sent.text
    finals = await asyncio.gather(*(_until_turn_ends(client, run["id"], 2) for run in runs))
    turn_two = world.server.requests[served_before:]

    for run, final in zip(runs, finals, strict=True):
        assert final["status"] == "succeeded", final
        both = (await client.get(f"/v1/runs/{run['id']}/patch")).text
        assert "+hello from the agent" in both
        assert "+second turn" in both
    assert await _sessions(world, runs) == sessions
    costs = await _assert_usage_per_turn(client, runs, [turn_one, turn_two])
    await _assert_comparison(client, runs, costs)
    _assert_sessions_resumed(world, sessions)
    _assert_scrubbed(world)


async def test_llm_run_applies_the_models_diff(
    world: World, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    profile = await _profile(client, world, "claude_code")
    executors = [{"type": "llm", "model": "claude-sonnet-4-5", "model_profile_id": profile}]
    (run,) = await _submit(client, make_remote(tmp_path), "add a greeting", executors)
    headers = dict(client.headers)
    status, frames = await collect(client, f"/v1/runs/{run['id']}/stream", headers)

    assert status == 200
    assert frames[-1].event == "completed", [f.data for f in frames[-3:]]
    logs = [line for f in frames if f.event == "log" for line in f.json["data"]["lines"]]
    assert "+hello from llm" in logs
    patch = await client.get(f"/v1/runs/{run['id']}/patch")
    assert "+hello from llm" in patch.text


async def test_a_run_budget_stops_the_agent_mid_way_and_refuses_the_next_turn(
    world: World, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    profile = await _profile(client, world, "claude_code")
    options = {"budget_usd": 0.0002}  # less than the model's first answer costs
    executors = [{"type": "claude_code", "model_profile_id": profile, "options": options}]
    served_before = len(world.server.requests)
    (run,) = await _submit(client, make_remote(tmp_path), FIRST, executors)
    final = await _until_turn_ends(client, run["id"], 1)

    assert final["status"] == "failed", final
    assert final["error"].startswith("budget_exceeded: the run spent $"), final
    assert final["summary"] is None  # the agent never reached its closing answer
    served = [r for r in world.server.requests[served_before:] if r.provider == "anthropic"]
    usage = (await client.get(f"/v1/runs/{run['id']}/usage")).json()
    (turn,) = usage["turns"]
    # Stopped on the first answer's usage: the turn records what the stream had shown.
    assert turn["input_tokens"] == served[0].usage.input, (turn, served)
    assert turn["cost_usd"] > options["budget_usd"]

    served_before = len(world.server.requests)
    sent = await client.post(f"/v1/runs/{run['id']}/messages", json={"content": SECOND})
    assert sent.status_code == 202, sent.text
    final = await _until_turn_ends(client, run["id"], 2)

    assert final["status"] == "failed", final
    assert final["error"].startswith("budget_exceeded"), final
    assert world.server.requests[served_before:] == []  # refused before the agent started
    usage = (await client.get(f"/v1/runs/{run['id']}/usage")).json()
    assert [t["turn"] for t in usage["turns"]] == [1]


async def test_setup_streams_before_the_agent_verify_is_recorded_and_failed_setup_fails(
    world: World, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    profile = await _profile(client, world, "claude_code")
    executors = [{"type": "claude_code", "model_profile_id": profile}]
    setup = [
        "echo preparing the environment",
        "echo caches warm >&2",
        'echo "FROM_SETUP=exported by setup" >> "$DURSOR_ENV"; echo "token $SETUP_TOKEN"',
    ]
    verify = [JUNIT_REPORT, 'echo "checks ran with $FROM_SETUP"', "test -f MISSING.md"]
    remote = make_remote(tmp_path / "ok")
    secret = {"value": SETUP_SECRET, "inject_into": ["setup"]}
    (run,) = await _submit(client, remote, FIRST, executors, setup, verify, secret)
    world.watch(run["id"])
    status, frames = await collect(client, f"/v1/runs/{run['id']}/stream", dict(client.headers))

    assert status == 200
    assert frames[-1].event == "completed", [f.data for f in frames[-3:]]
    steps = [f.json["data"]["message"] for f in frames if f.event == "progress"]
    assert steps.index("setup: echo preparing the environment") < steps.index("setup done")
    assert steps.index("setup done") < next(i for i, s in enumerate(steps) if "Claude" in s)
    lines = [
        (f.json["data"]["stream"], line)
        for f in frames
        if f.event == "log"
        for line in f.json["data"]["lines"]
    ]
    assert ("stdout", "preparing the environment") in lines, lines
    assert ("stderr", "caches warm") in lines, lines
    assert ("stdout", "token ***") in lines, lines  # the secret reached setup, masked
    assert SETUP_SECRET not in str([f.data for f in frames])
    claude = [p for p in world.agents() if p.is_cli and run["id"] in p.env.get("HOME", "")]
    assert claude, "the agent was seen while it asked the model"
    assert all(p.env.get("FROM_SETUP") == "exported by setup" for p in claude)
    assert all("SETUP_TOKEN" not in p.env for p in claude)  # a setup-only secret
    assert steps.index("verify: test -f MISSING.md") < steps.index("verification exited 1")
    (verified,) = (await client.get(f"/v1/runs/{run['id']}/verifications")).json()
    assert (verified["turn"], verified["passed"], verified["exit_code"]) == (1, False, 1)
    assert (verified["tests"], verified["failures"]) == (4, 1)  # from the JUnit report
    assert "checks ran with exported by setup" in verified["output_tail"]
    assert verified["duration_seconds"] > 0
    compared = (await client.get(f"/v1/tasks/{run['task_id']}/comparison")).json()
    figures = compared["runs"][0]["figures"]
    assert (figures["verify_passed"], figures["failing_tests"]) == (False, 1)
    patch = (await client.get(f"/v1/runs/{run['id']}/patch")).text
    assert "junit.xml" not in patch  # verification ran after the turn was recorded

    served_before = len(world.server.requests)
    failing = ["echo about to fail", "exit 3", "echo never printed"]
    (run,) = await _submit(client, make_remote(tmp_path / "bad"), FIRST, executors, failing)
    status, frames = await collect(client, f"/v1/runs/{run['id']}/stream", dict(client.headers))

    assert frames[-1].event == "failed", [f.data for f in frames[-3:]]
    final = (await client.get(f"/v1/runs/{run['id']}")).json()
    assert final["error"] == "setup_failed: `exit 3` exited with status 3", final
    said = [line for f in frames if f.event == "log" for line in f.json["data"]["lines"]]
    assert "about to fail" in said
    assert "never printed" not in said
    assert world.server.requests[served_before:] == []  # the agent never started


async def _assert_comparison(
    client: httpx.AsyncClient, runs: list[dict[str, Any]], costs: dict[str, float]
) -> None:
    """All three succeeded with two-line diffs: the default rule ranks them by cost."""
    path = f"/v1/tasks/{runs[0]['task_id']}/comparison"
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    compared = answer.json()
    assert compared["rule"][:5] == [
        "run_succeeded",
        "verify_passed",
        "failing_tests",
        "diff_lines",
        "cost_usd",
    ]
    assert len(set(costs.values())) == 3, costs  # the prices make the cost decide
    assert [r["run_id"] for r in compared["runs"]] == sorted(costs, key=costs.__getitem__)
    assert [r["rank"] for r in compared["runs"]] == [1, 2, 3]
    for ranked in compared["runs"]:
        figures = ranked["figures"]
        assert (figures["succeeded"], figures["diff_lines"]) == (True, 2), ranked
        assert figures["files_changed"] == 2
        assert figures["cost_usd"] == costs[ranked["run_id"]]
        assert figures["duration_seconds"] > 0
        assert (figures["verify_passed"], figures["failing_tests"]) == (None, None)

    by_time = (await client.get(path, params={"rule": "duration_seconds"})).json()
    durations = [r["figures"]["duration_seconds"] for r in by_time["runs"]]
    assert durations == sorted(durations)
    assert by_time["rule"] == ["duration_seconds"]
    refused = await client.get(path, params={"rule": "cost_usd,luck"})
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"


async def _assert_usage_per_turn(
    client: httpx.AsyncClient, runs: list[dict[str, Any]], turns: list[list[Recorded]]
) -> dict[str, float]:
    """Each turn's tokens are what the stand-in reported to that CLI; costs follow the prices."""
    wires = {cli.kind: cli.wire for cli in CLIS}
    everything = Decimal(0)
    run_costs: dict[str, float] = {}
    for run in runs:
        kind = run["executor"]["type"]
        answer = await client.get(f"/v1/runs/{run['id']}/usage")
        assert answer.status_code == 200, answer.text
        usage = answer.json()
        assert [t["turn"] for t in usage["turns"]] == [1, 2], usage
        run_cost = Decimal(0)
        for recorded, served in zip(usage["turns"], turns, strict=True):
            mine = [r for r in served if r.provider == wires[kind]]
            tokens = (sum(r.usage.input for r in mine), sum(r.usage.output for r in mine))
            assert (recorded["input_tokens"], recorded["output_tokens"]) == tokens, (kind, usage)
            price = PRICES[PROFILES[kind][1]]
            cost = (tokens[0] * Decimal(price["input_per_mtok"])) / 1_000_000
            cost += (tokens[1] * Decimal(price["output_per_mtok"])) / 1_000_000
            source = "reported" if kind == "claude_code" else "price_table"
            assert (recorded["cost_usd"], recorded["cost_source"]) == (float(cost), source), kind
            assert recorded["model"] == PROFILES[kind][1]
            run_cost += cost
        assert usage["total"]["cost_usd"] == float(run_cost), usage
        assert usage["total"]["input_tokens"] == sum(t["input_tokens"] for t in usage["turns"])
        everything += run_cost
        run_costs[run["id"]] = float(run_cost)
    task = (await client.get(f"/v1/tasks/{runs[0]['task_id']}/usage")).json()
    assert (task["total"]["turns"], task["total"]["cost_usd"]) == (6, float(everything)), task
    assert task["total"]["unpriced_turns"] == 0
    return run_costs


def _assert_sessions_resumed(world: World, sessions: dict[str, str]) -> None:
    """Each CLI's second turn sent the first turn's conversation, started with its resume flag."""
    for cli in CLIS:
        turns = [r.conversation.instructions for r in world.server.by(cli.wire)]
        assert any(t[-2:] == (FIRST, SECOND) for t in turns), (cli.kind, turns)
        session = sessions[cli.kind]
        resumed = [p.argv for p in world.agents() if cli.resume_flag in p.argv]
        assert any(a[a.index(cli.resume_flag) + 1] == session for a in resumed), cli.kind


# What the run's jail adds: its egress proxy, and the folder bubblewrap starts the agent in.
JAIL_ENV = {
    *(f"{name}_PROXY" for name in ("HTTPS", "HTTP", "NO")),
    *(f"{name}_proxy" for name in ("https", "http", "no")),
    "PWD",
}


def _assert_scrubbed(world: World) -> None:
    """No agent process got anything of the runner's environment beyond what it needs."""
    runner = _environ(world.platform.replica("agent-runner").app.pid)
    assert "DURSOR_DATABASE_URL" in runner or "DURSOR_COMMAND_TEMPLATES" in runner
    allowed = BASE_ENV.union(JAIL_ENV, *(cli.env for cli in CLIS))
    agents = world.agents()
    assert any(p.is_cli for p in agents)
    for process in agents:
        leaked = {k for k, v in runner.items() if k not in allowed and process.env.get(k) == v}
        assert not leaked, (process.argv[:2], leaked)
    for process in filter(lambda p: p.is_cli, agents):
        assert set(process.env) <= allowed, (process.argv[:2], sorted(process.env))


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


async def _sessions(world: World, runs: list[dict[str, Any]]) -> dict[str, str]:
    """executor type -> the session id the runner kept for its run."""
    engine = create_async_engine(world.platform.database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(tables.runs.c.executor_type, tables.runs.c.session_id).where(
                    tables.runs.c.id.in_([r["id"] for r in runs])
                )
            )
            return {row.executor_type: row.session_id for row in rows}
    finally:
        await engine.dispose()


async def _profile(client: httpx.AsyncClient, world: World, kind: str) -> str:
    provider, model, suffix = PROFILES[kind]
    body = {
        "name": f"e2e {kind}",
        "provider": provider,
        "model": model,
        "base_url": f"{world.url}{suffix}",
        "api_key": f"sk-e2e-{provider}-key",
    }
    created = await client.post("/v1/model-profiles", json=body)
    assert created.status_code == 201, created.text
    profile_id: str = created.json()["id"]
    return profile_id


async def _submit(
    client: httpx.AsyncClient,
    remote: Path,
    instruction: str,
    executors: list[dict[str, Any]],
    setup: list[str] | None = None,
    verify: list[str] | None = None,
    setup_token: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    repo = await client.post("/v1/repos", json={"url": f"file://{remote}"})
    assert repo.status_code == 201, repo.text
    if setup_token is not None:
        path = f"/v1/repos/{repo.json()['id']}/secrets/SETUP_TOKEN"
        put = await client.put(path, json=setup_token)
        assert put.status_code == 200, put.text
    if setup is not None:
        path = f"/v1/repos/{repo.json()['id']}/environment"
        put = await client.put(path, json={"setup": setup, "verify": verify or []})
        assert put.status_code == 200, put.text
        assert (await client.get(path)).json()["setup"] == setup
    task = await client.post("/v1/tasks", json={"repo_id": repo.json()["id"], "title": "clis"})
    assert task.status_code == 201, task.text
    accepted = await client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={"instruction": instruction, "executors": executors},
    )
    assert accepted.status_code == 202, accepted.text
    runs: list[dict[str, Any]] = accepted.json()["runs"]
    return runs


async def _until_turn_ends(
    client: httpx.AsyncClient, run_id: str, turn: int, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = (await client.get(f"/v1/runs/{run_id}")).json()
        if run["turn"] == turn and run["status"] in TERMINAL:
            return run
        await asyncio.sleep(0.25)
    raise TimeoutError(f"run {run_id} turn {turn} did not end: {run}")


async def _blob_names(world: World) -> set[str]:
    async with BlobServiceClient.from_connection_string(world.azure) as service:
        container = service.get_container_client(CONTAINER)
        return {blob.name async for blob in container.list_blobs()}
