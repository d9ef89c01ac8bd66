"""The runner's git trusts no run's repository: hooks and settings an agent plants through
`git rev-parse --git-common-dir` run nowhere, the shared mirror stays as the runner wrote
it, and the runner's environment never reaches a git process. Real git throughout."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent_runner.git.untrusted_git import git as runner_git
from agent_runner.git.untrusted_git import git_env
from agent_runner.git.workspaces import Workspaces
from tests.support.git_remote import git, make_remote

# Every hook the runner's own commands (add, commit, checkout, fetch, bundle) could fire.
HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "post-checkout",
    "post-merge",
    "post-rewrite",
    "post-index-change",
    "reference-transaction",
    "pre-auto-gc",
    "pre-push",
)


def plant(worktree: Path, marker: Path) -> Path:
    """What an agent without a jail can do: hooks and an fsmonitor in git's common dir."""
    common = Path(
        git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=worktree).strip()
    )
    hooks = common / "planted-hooks"
    hooks.mkdir(exist_ok=True)
    for name in (*HOOKS, "fsmonitor"):
        script = hooks / name
        script.write_text(f'#!/bin/sh\necho "{name} ran" >> {marker}\nenv >> {marker}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    git("config", "core.hooksPath", str(hooks), cwd=worktree)
    git("config", "core.fsmonitor", str(hooks / "fsmonitor"), cwd=worktree)
    (common / "hooks").mkdir(exist_ok=True)
    for name in HOOKS:
        (common / "hooks" / name).write_bytes((hooks / name).read_bytes())
        (common / "hooks" / name).chmod(0o755)
    return common


def snapshot(mirror: Path) -> dict[str, bytes]:
    """The mirror's config, hooks and refs, as bytes per path."""
    seen: dict[str, bytes] = {}
    for path in sorted(mirror.rglob("*")):
        relative = path.relative_to(mirror).as_posix()
        if path.is_file() and not relative.startswith(("objects/", "dursor-fetched", "FETCH_HEAD")):
            seen[relative] = path.read_bytes()
    return seen


async def test_hooks_planted_through_the_common_dir_never_run_in_this_run_or_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAPR_API_TOKEN", "runner-secret-token")
    url = f"file://{make_remote(tmp_path / 'remote')}"
    workspaces = Workspaces(tmp_path / "ws")
    marker = tmp_path / "hooks-ran.txt"
    first = await workspaces.prepare(url, "run-a", "dursor/a", "main", None)
    mirror = workspaces.mirror_path(url)
    before = snapshot(mirror)

    common = plant(first, marker)
    (first / "a.txt").write_text("from run a\n")
    turn_a = await workspaces.finish_turn(first, "main", "turn of run a")
    bundle_a = await workspaces.bundle(first, "run-a", "dursor/a", "main")
    second = await workspaces.prepare(url, "run-b", "dursor/b", "main", None)
    (second / "b.txt").write_text("from run b\n")
    turn_b = await workspaces.finish_turn(second, "main", "turn of run b")
    elsewhere = Workspaces(tmp_path / "other-worker")
    follow_up = await elsewhere.prepare(url, "run-a", "dursor/a", "main", bundle_a)

    assert turn_a.commit_sha
    assert turn_b.commit_sha
    assert (follow_up / "a.txt").read_text() == "from run a\n"
    assert not marker.exists(), marker.read_text()
    # The common dir the agent found is the run's own, not the shared mirror.
    assert common.resolve() != mirror.resolve()
    assert snapshot(mirror) == before
    assert not (mirror / "hooks").exists()
    # The trap was armed: plain git in the same worktree fires it at once.
    git("commit", "-q", "--allow-empty", "-m", "plain git", cwd=first)
    assert "pre-commit ran" in marker.read_text()


async def test_the_runners_git_gets_none_of_the_runners_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAPR_API_TOKEN", "runner-secret-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql://runner:secret@127.0.0.1/db")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.hooksPath")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(tmp_path))
    remote = make_remote(tmp_path / "remote")

    env = git_env()
    listed = (await runner_git("config", "--list", "--show-origin", cwd=remote)).decode()

    assert "DAPR_API_TOKEN" not in env
    assert "DATABASE_URL" not in env
    assert "GIT_CONFIG_COUNT" not in env
    assert "command line:\tcore.hookspath=/dev/null" in listed.lower()
    assert f"core.hookspath={tmp_path}".lower() not in listed.lower()  # nor the env's
    assert os.environ["DAPR_API_TOKEN"] not in listed
