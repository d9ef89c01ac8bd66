"""The `llm` executor against the scripted model server: each provider's streaming API,
the model's diff applied with `git apply` (clean, three-way, with rejects), and failures."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agent_runner.agents.executors.base import AgentInvocation, Credential
from agent_runner.agents.executors.cli_streams import CredentialMissing
from agent_runner.agents.executors.llm import LlmAgent
from agent_runner.agents.process import ProcessLimits
from agent_runner.git.workspaces import Workspaces
from dursor_contracts.executors import LlmOptions
from tests.agent_runner.agents.integration.test_executor_clis import RecordingSink
from tests.standins.model_server import ModelServer, Reply, serving
from tests.support.git_remote import git, make_remote

LIMITS = ProcessLimits(
    wall_clock_seconds=30, idle_seconds=10, output_cap_bytes=1 << 20, kill_grace_seconds=1
)
RUN_KEY = "sk-llm-run-key-42"
LETTERS = "".join(f"{c}\n" for c in "abcdefghij")
FILES = {"README.md": "# demo\n", "src/app.py": "print('hi')\n", "letters.txt": LETTERS}
GREETING = """I add a greeting to the README.

```diff
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 # demo
+hello from the model
```
"""
WIRES = {"openai": "openai-chat", "anthropic": "anthropic", "google": "gemini"}


@dataclass
class World:
    """A worktree of a fresh repository and the scripted model server."""

    server: ModelServer
    url: str
    worktree: Path
    home: Path

    def invocation(self, provider: str, instruction: str, **changes: Any) -> AgentInvocation:
        """One `llm` turn with the run's key for `provider`, pointed at the stand-in."""
        base_url = f"{self.url}/v1" if provider == "openai" else self.url
        values: dict[str, Any] = {
            "run_id": uuid.uuid4(),
            "turn": 1,
            "instruction": instruction,
            "workspace": self.worktree,
            "home": self.home,
            "model": "test-model-1",
            "options": LlmOptions(max_tokens=1000, temperature=0.0),
            "session_id": None,
            "credential": Credential(provider, SecretStr(RUN_KEY), base_url),  # type: ignore[arg-type]
            "limits": LIMITS,
        }
        return AgentInvocation(**(values | changes))

    def status(self) -> str:
        """`git status --porcelain` of the worktree."""
        return git("status", "--porcelain", "--untracked-files=all", cwd=self.worktree)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A repository with a README, a script and a letters file; the stand-in serving."""
    remote = make_remote(tmp_path / "remote", FILES)
    workspaces = Workspaces(tmp_path / "workspaces")
    run_id = str(uuid.uuid4())
    worktree = await workspaces.prepare(f"file://{remote}", run_id, "dursor/l", "main", None)
    server = ModelServer()
    async with serving(server) as url:
        yield World(server, url, worktree, workspaces.home_path(run_id))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
async def test_the_models_diff_is_streamed_and_applied(world: World, provider: str) -> None:
    world.server.scripts = {"greeting": [Reply(GREETING)]}
    sink = RecordingSink()
    outcome = await LlmAgent().run(world.invocation(provider, "add a greeting"), sink)

    assert outcome.succeeded, (outcome, sink.lines)
    assert outcome.summary == "I add a greeting to the README."
    assert (world.worktree / "README.md").read_text() == "# demo\nhello from the model\n"
    assert world.status() == " M README.md\n"
    assert "+hello from the model" in sink.agent_said()
    (request,) = world.server.by(WIRES[provider])
    assert outcome.usage == {
        "input_tokens": request.usage.input,
        "output_tokens": request.usage.output,
    }
    assert request.api_key == RUN_KEY
    assert request.body.get("stream") is True or request.query == "alt=sse"
    # The model saw the instruction and the worktree's files.
    assert request.conversation.instruction.endswith("Instruction:\nadd a greeting")
    assert "<file path=\"src/app.py\">\nprint('hi')\n" in request.conversation.instruction


async def test_hunks_that_do_not_fit_are_reported_as_rejects(world: World) -> None:
    world.server.scripts = {"two": [Reply(GREETING + _hunk("src/app.py", "print('bye')"))]}
    sink = RecordingSink()
    outcome = await LlmAgent().run(world.invocation("anthropic", "two changes"), sink)

    assert outcome.succeeded, outcome
    assert world.status() == " M README.md\n"  # applied where it fit, no .rej file left
    system = [line for stream, line in sink.lines if stream == "system"]
    assert "rejected in src/app.py:" in system
    assert "-print('bye')" in system
    assert any(step.startswith("applied with rejects") for step in sink.steps)


async def test_a_patch_that_applies_nowhere_fails_the_turn(world: World) -> None:
    world.server.scripts = {"bad": [Reply(_hunk("src/app.py", "print('bye')"))]}
    sink = RecordingSink()
    outcome = await LlmAgent().run(world.invocation("openai", "bad change"), sink)

    assert outcome.error == "the model's patch did not apply"
    assert world.status() == ""
    assert ("system", "rejected in src/app.py:") in sink.lines


async def test_a_patch_made_against_an_older_base_applies_three_way(world: World) -> None:
    patch = _diff_against_base(world.worktree, "letters.txt", "c", "C")
    (world.worktree / "letters.txt").write_text(LETTERS.replace("e\n", "E\n"))
    git("commit", "-qam", "an earlier turn changed line e", cwd=world.worktree)
    world.server.scripts = {"capital": [Reply(f"```diff\n{patch}```\n")]}
    sink = RecordingSink()
    outcome = await LlmAgent().run(world.invocation("google", "capital c"), sink)

    assert outcome.succeeded, (outcome, sink.lines)
    expected = LETTERS.replace("c\n", "C\n").replace("e\n", "E\n")
    assert (world.worktree / "letters.txt").read_text() == expected
    system = [line for stream, line in sink.lines if stream == "system"]
    assert any(line.startswith("git apply --recount: error") for line in system), system
    assert any(line.startswith("git apply --3way") for line in system), system


async def test_a_plain_diff_with_a_new_file_and_miscounted_hunks_applies(world: World) -> None:
    plain = (
        "--- a/README.md\n+++ b/README.md\n@@ -1 +1,7 @@\n # demo\n+more\n"
        "--- /dev/null\n+++ b/docs/new.md\n@@ -0,0 +1 @@\n+brand new\n+second line\n"
    )
    world.server.scripts = {"plain": [Reply(f"Here you go:\n{plain}")]}
    outcome = await LlmAgent().run(world.invocation("openai", "plain diff"), RecordingSink())

    assert outcome.succeeded, outcome
    assert (world.worktree / "README.md").read_text() == "# demo\nmore\n"
    assert (world.worktree / "docs/new.md").read_text() == "brand new\nsecond line\n"


async def test_an_answer_without_a_diff_fails_the_turn(world: World) -> None:
    world.server.scripts = {"chat": [Reply("I would rather not change anything.")]}
    outcome = await LlmAgent().run(world.invocation("anthropic", "chat"), RecordingSink())

    assert outcome.error == "the model answered without a diff"
    assert world.status() == ""


async def test_a_refused_call_raises_with_the_providers_reason(world: World) -> None:
    world.server.failure = (401, "invalid x-api-key")

    with pytest.raises(Exception, match=r"anthropic answered 401: .*invalid x-api-key"):
        await LlmAgent().run(world.invocation("anthropic", "add"), RecordingSink())


async def test_a_run_without_a_model_profile_is_refused(world: World) -> None:
    with pytest.raises(CredentialMissing, match="needs a model profile"):
        await LlmAgent().run(world.invocation("openai", "x", credential=None), RecordingSink())
    assert world.server.requests == []


async def test_a_link_out_of_the_worktree_is_never_shown_to_the_model(
    world: World, tmp_path: Path
) -> None:
    secret = tmp_path / "secrets.json"
    secret.write_text('{"dapr_api_token": "SECRET-OF-THE-RUNNER"}\n')
    # Committed in the repository as `notes.md -> ../../…/secrets.json`.
    _relative_link(world.worktree / "notes.md", secret)
    (world.worktree / "docs").symlink_to(tmp_path)
    git("add", "notes.md", "docs", cwd=world.worktree)
    git("commit", "-qm", "links", cwd=world.worktree)
    world.server.scripts = {"notes": [Reply(GREETING)]}
    sink = RecordingSink()
    outcome = await LlmAgent().run(world.invocation("openai", "see notes.md, add a greeting"), sink)

    assert outcome.succeeded, (outcome, sink.lines)
    (request,) = world.server.by("openai-chat")
    assert "SECRET-OF-THE-RUNNER" not in json.dumps(request.body)
    assert '<file path="README.md">' in request.conversation.instruction
    assert ("system", "not shown to the model: notes.md links out of the worktree") in sink.lines
    assert not any("SECRET" in line for _, line in sink.lines)


async def test_a_patch_naming_paths_outside_the_worktree_is_refused_whole(
    world: World, tmp_path: Path
) -> None:
    escaping = (
        "```diff\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # demo\n+fine\n"
        "--- /dev/null\n+++ b/../../escaped.txt\n@@ -0,0 +1 @@\n+outside\n```\n"
    )
    world.server.scripts = {"escape": [Reply(escaping)]}
    outcome = await LlmAgent().run(world.invocation("anthropic", "escape"), RecordingSink())

    assert outcome.error is not None
    assert outcome.error.startswith("the model's patch was refused"), outcome.error
    assert "../../escaped.txt" in outcome.error
    assert world.status() == ""
    assert not (world.worktree.parent.parent / "escaped.txt").exists()
    assert not (world.worktree.parent / "escaped.txt").exists()


def _relative_link(link: Path, target: Path) -> None:
    """`link` -> `target`, written relative to the link's folder (`../../x`)."""
    link.symlink_to(os.path.relpath(target, link.parent))


def _hunk(path: str, old: str) -> str:
    return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+print('new')\n```\n"


def _diff_against_base(worktree: Path, path: str, old: str, new: str) -> str:
    """A `git diff` (with index lines) changing one line of `path` as it is at the base."""
    original = (worktree / path).read_text()
    (worktree / path).write_text(original.replace(f"{old}\n", f"{new}\n"))
    diff = subprocess.run(
        ["git", "diff", path], cwd=worktree, check=True, capture_output=True, text=True
    ).stdout
    (worktree / path).write_text(original)
    return diff
