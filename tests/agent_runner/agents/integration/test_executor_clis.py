"""The real Claude Code, Codex and Gemini CLIs, run by their agents on real git worktrees
against the scripted model server: the edit lands in the patch, a follow-up resumes the
session, and the agent process gets nothing of the runner's environment."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agent_runner.agents.executors.base import Agent, AgentInvocation, Credential, Stream
from agent_runner.agents.executors.claude_code import ClaudeCodeAgent
from agent_runner.agents.executors.cli_streams import CredentialMissing, ProviderAccess
from agent_runner.agents.executors.codex import CodexAgent
from agent_runner.agents.executors.gemini import GeminiAgent
from agent_runner.agents.process import LimitExceeded, ProcessLimits
from agent_runner.git.workspaces import Workspaces
from dursor_contracts.executors import (
    ClaudeCodeOptions,
    CodexOptions,
    ExecutorOptions,
    GeminiOptions,
)
from dursor_contracts.usage import SESSION_TOTALS, this_turn
from tests.standins.agent_clis import ProcessView, agent_processes, cli_path, processes_in
from tests.standins.model_server import ModelServer, Recorded, Reply, WriteFile, serving
from tests.support.git_remote import make_remote

LIMITS = ProcessLimits(
    wall_clock_seconds=120, idle_seconds=60, output_cap_bytes=10 << 20, kill_grace_seconds=2
)
RUN_KEY = "sk-run-key-0123456789"
PLATFORM_SECRET = "platform-secret-must-not-leak"
FIRST, SECOND = "add a note please", "and a second note"
BASE_ENV = {"PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "HOME", "TERM"}
BASE_ENV |= {"NO_COLOR", "CI", "TMPDIR"}


@dataclass(frozen=True)
class Cli:
    """How one CLI is started, talks and resumes."""

    kind: str
    provider: str
    wire: str
    agent: Callable[[], Agent]
    base_url: Callable[[str], str]
    key_env: str
    env: frozenset[str]
    resume_flag: str
    step_word: str


CLIS = [
    Cli(
        "claude_code",
        "anthropic",
        "anthropic",
        lambda: ClaudeCodeAgent([cli_path("claude")], ProviderAccess()),
        lambda url: url,
        "ANTHROPIC_API_KEY",
        frozenset(
            {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"}
        ),
        "--resume",
        "Write: NOTES.md",
    ),
    Cli(
        "codex",
        "openai",
        "openai-responses",
        lambda: CodexAgent([cli_path("codex")], ProviderAccess()),
        lambda url: f"{url}/v1",
        "OPENAI_API_KEY",
        # codex.js tells the native binary it was installed by npm, and where.
        frozenset({"OPENAI_API_KEY", "CODEX_MANAGED_BY_NPM", "CODEX_MANAGED_PACKAGE_ROOT"}),
        "resume",
        "NOTES.md",
    ),
    Cli(
        "gemini",
        "google",
        "gemini",
        lambda: GeminiAgent([cli_path("gemini")], ProviderAccess()),
        lambda url: url,
        "GEMINI_API_KEY",
        frozenset({"GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_CLI_NO_RELAUNCH"}),
        "--resume",
        "write_file: NOTES.md",
    ),
]

# Each kind's options as run-api stores them when the request names none.
OPTIONS: dict[str, ExecutorOptions] = {
    "claude_code": ClaudeCodeOptions(),
    "codex": CodexOptions(),
    "gemini": GeminiOptions(),
}


@dataclass
class RecordingSink:
    """Keeps what the agent reported."""

    lines: list[tuple[Stream, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    async def log(self, stream: Stream, line: str) -> None:
        """Keep a line."""
        self.lines.append((stream, line))

    async def progress(self, message: str) -> None:
        """Keep a step."""
        self.steps.append(message)

    def agent_said(self) -> list[str]:
        """The agent's own lines."""
        return [line for stream, line in self.lines if stream == "agent"]


@dataclass
class World:
    """A worktree of a fresh repository, the model stand-in and what it saw of the agent."""

    server: ModelServer
    url: str
    workspaces: Workspaces
    worktree: Path
    home: Path
    seen: list[tuple[Recorded, list[ProcessView]]] = field(default_factory=list)

    def invocation(self, cli: Cli, instruction: str, **changes: Any) -> AgentInvocation:
        """One turn of `cli` with the run's own key pointed at the stand-in."""
        values: dict[str, Any] = {
            "run_id": uuid.uuid4(),
            "turn": 1,
            "instruction": instruction,
            "workspace": self.worktree,
            "home": self.home,
            "model": None,
            "options": OPTIONS[cli.kind],
            "session_id": None,
            "credential": Credential(cli.provider, SecretStr(RUN_KEY), cli.base_url(self.url)),  # type: ignore[arg-type]
            "limits": LIMITS,
        }
        return AgentInvocation(**(values | changes))

    def agents(self, index: int) -> list[ProcessView]:
        """The agent processes (not dursor's guard) seen while request `index` was pending."""
        return agent_processes(self.seen[index][1])


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """A fresh repository's worktree and a scripted model server."""
    # The runner's own environment holds a secret the agent must never see.
    monkeypatch.setenv("DURSOR_DATABASE_URL", f"postgresql://u:{PLATFORM_SECRET}@db/x")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", PLATFORM_SECRET)
    remote = make_remote(tmp_path / "remote")
    workspaces = Workspaces(tmp_path / "workspaces")
    run_id = str(uuid.uuid4())
    worktree = await workspaces.prepare(f"file://{remote}", run_id, "dursor/t", "main", None)
    server = ModelServer(
        scripts={
            FIRST: [WriteFile("NOTES.md", "hello from the agent\n"), Reply("Added NOTES.md.")],
            SECOND: [WriteFile("SECOND.md", "second turn\n"), Reply("Added SECOND.md.")],
        }
    )
    async with serving(server) as url:
        found = World(server, url, workspaces, worktree, workspaces.home_path(run_id))
        server.on_request = lambda r: found.seen.append((r, processes_in(worktree)))
        yield found


@pytest.mark.parametrize("cli", CLIS, ids=lambda c: c.kind)
async def test_a_turn_edits_the_worktree_and_a_follow_up_resumes_it(world: World, cli: Cli) -> None:
    agent = cli.agent()
    sink = RecordingSink()
    first = await agent.run(world.invocation(cli, FIRST), sink)

    assert first.succeeded, (first, sink.lines)
    assert first.session_id
    assert first.summary == "Added NOTES.md."
    assert any(cli.step_word in step for step in sink.steps), sink.steps
    assert "Added NOTES.md." in sink.agent_said()
    turn_one = world.server.by(cli.wire)
    assert {r.api_key for r in turn_one} == {RUN_KEY}
    # The CLI's own usage report adds up every answer the model sent in the turn.
    assert _tokens(first.usage) == _served(turn_one), first.usage
    # The CLI executed the tool call for real and sent its result back.
    assert turn_one[-1].conversation.tool_results
    assert (world.worktree / "NOTES.md").read_text() == "hello from the agent\n"
    patch = (await world.workspaces.finish_turn(world.worktree, "main", "turn 1")).patch.decode()
    assert "+hello from the agent" in patch

    seen_before = len(world.seen)
    follow_up = world.invocation(cli, SECOND, turn=2, session_id=first.session_id)
    second = await agent.run(follow_up, RecordingSink())

    assert second.succeeded, second
    assert second.session_id == first.session_id
    resumed = [r for r, _ in world.seen[seen_before:] if r.provider == cli.wire]
    # Codex counts its whole session (thread): the runner subtracts the earlier turns'.
    reported = second.usage
    if cli.kind in SESSION_TOTALS:
        reported = this_turn(second.usage, first.usage, SESSION_TOTALS[cli.kind])
    assert _tokens(reported) == _served(resumed), second.usage
    # The resumed session sent the earlier conversation along with the new instruction.
    assert resumed[0].conversation.instructions[-2:] == (FIRST, SECOND)
    argv = next(p.argv for p in world.agents(seen_before) if cli.resume_flag in p.argv)
    assert argv[argv.index(cli.resume_flag) + 1] == first.session_id
    result = await world.workspaces.finish_turn(world.worktree, "main", "turn 2")
    assert {f.path for f in result.files_changed} == {"NOTES.md", "SECOND.md"}
    # Nothing the CLI asked for went unanswered (a side call to a route the stand-in lacks).
    assert [r.path for r in world.server.by("unknown")] == []


@pytest.mark.parametrize("cli", CLIS, ids=lambda c: c.kind)
async def test_the_agent_gets_a_scrubbed_environment(world: World, cli: Cli) -> None:
    outcome = await cli.agent().run(world.invocation(cli, FIRST), RecordingSink())

    assert outcome.succeeded, outcome
    agents = [p for i in range(len(world.seen)) for p in world.agents(i)]
    assert any(p.is_cli for p in agents), "no agent process was seen while the model was asked"
    for process in agents:
        assert PLATFORM_SECRET not in "".join(process.env.values()), process.argv
        assert "DURSOR_DATABASE_URL" not in process.env
    # The CLI itself got exactly the scrubbed set (tools it spawns may add their own).
    for process in filter(lambda p: p.is_cli, agents):
        assert set(process.env) <= BASE_ENV | cli.env, (process.argv, sorted(process.env))
        assert process.env["HOME"] == str(world.home)
        assert process.env["TMPDIR"] == str(world.home / "tmp")
        assert process.env[cli.key_env] == RUN_KEY


@pytest.mark.parametrize("cli", CLIS, ids=lambda c: c.kind)
async def test_cancel_while_the_model_thinks_leaves_no_process(world: World, cli: Cli) -> None:
    world.server.gate = asyncio.Event()
    turn = asyncio.create_task(cli.agent().run(world.invocation(cli, FIRST), RecordingSink()))
    while not world.seen and not turn.done():  # noqa: ASYNC110 - the hook runs in a thread
        await asyncio.sleep(0.05)
    assert world.agents(0), "the agent was not running while its request was held"

    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    world.server.gate.set()
    assert processes_in(world.worktree) == []


async def test_a_silent_agent_waiting_on_the_model_hits_the_idle_limit(world: World) -> None:
    world.server.gate = asyncio.Event()
    quiet = replace(LIMITS, idle_seconds=1.5)
    started = time.monotonic()

    with pytest.raises(LimitExceeded) as stopped:
        await CLIS[0].agent().run(world.invocation(CLIS[0], FIRST, limits=quiet), RecordingSink())
    world.server.gate.set()
    assert stopped.value.kind == "idle"
    assert time.monotonic() - started < 15
    assert processes_in(world.worktree) == []


@pytest.mark.parametrize("cli", CLIS, ids=lambda c: c.kind)
async def test_a_session_missing_on_this_worker_starts_a_new_one(world: World, cli: Cli) -> None:
    sink = RecordingSink()
    lost = str(uuid.uuid4())
    outcome = await cli.agent().run(world.invocation(cli, FIRST, session_id=lost), sink)

    assert outcome.succeeded, outcome
    assert outcome.session_id not in (None, lost)
    assert (
        "system",
        f"session {lost} is not on this worker; starting a new one",
    ) in sink.lines or (
        "system",
        f"thread {lost} is not on this worker; starting a new one",
    ) in sink.lines
    assert all(
        cli.resume_flag not in p.argv for i in range(len(world.seen)) for p in world.agents(i)
    )


@pytest.mark.parametrize("cli", CLIS, ids=lambda c: c.kind)
async def test_a_key_for_another_provider_is_refused_before_anything_starts(
    world: World, cli: Cli
) -> None:
    other = "openai" if cli.provider != "openai" else "anthropic"
    wrong = Credential(other, SecretStr(RUN_KEY), world.url)  # type: ignore[arg-type]

    with pytest.raises(CredentialMissing, match=f"needs a {cli.provider} key"):
        await cli.agent().run(world.invocation(cli, FIRST, credential=wrong), RecordingSink())
    assert world.server.requests == []


@pytest.mark.parametrize("cli", CLIS, ids=lambda c: c.kind)
async def test_a_request_the_provider_refuses_fails_the_turn_with_its_reason(
    world: World, cli: Cli
) -> None:
    world.server.failure = (400, "model no-such-model-42 is not available to this key")
    outcome = await cli.agent().run(world.invocation(cli, FIRST), RecordingSink())

    assert not outcome.succeeded
    assert outcome.error is not None
    assert "no-such-model-42" in outcome.error, outcome


def _tokens(reported: dict[str, Any]) -> tuple[int, int]:
    """Input and output tokens as a CLI reported them for its turn."""
    return reported.get("input_tokens", 0), reported.get("output_tokens", 0)


def _served(requests: list[Recorded]) -> tuple[int, int]:
    """Input and output tokens the stand-in reported over `requests`."""
    return sum(r.usage.input for r in requests), sum(r.usage.output for r in requests)
