"""Running a shell in a fresh agent jail for the sandbox tests, and what it left behind."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest

from agent_runner.agents.sandbox import (
    EgressPolicy,
    JailLimits,
    JailRequest,
    Sandbox,
    uid_processes,
)
from agent_runner.agents.sandbox.schemas import MiB

requires_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is not installed: no jail can be built on this machine",
)
LIMITS = JailLimits(memory_bytes=256 * MiB, pids=64, cpu_cores=1.0, tmp_bytes=64 * MiB)
SECRET = "s3cr3t-" + uuid4().hex
HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
# Variables bash sets itself: the same in the runner's environment and the jail's.
SHELL_SETS = {b"SHLVL", b"PWD", b"OLDPWD", b"_"}


@dataclass(frozen=True)
class Outcome:
    """How one jailed command ended, what it printed and what the jail reported."""

    returncode: int
    stdout: str
    stderr: str
    reason: str | None
    refusals: list[tuple[str, int, str]]
    left_after_exit: set[int]


@dataclass
class Tree:
    """A runner's folders: `.data` secrets, two runs' worktrees and homes."""

    root: Path
    workspace: Path
    home: Path
    other_workspace: Path
    secrets: Path


def make_tree(root: Path) -> Tree:
    """The runner's data folder under `root`, as the jail's neighbours would find it."""
    secrets = root / ".data" / "secrets.json"
    secrets.parent.mkdir()
    secrets.write_text(f'{{"dapr_api_token": "{SECRET}"}}')
    other = root / "runs" / "other" / "worktree"
    other.mkdir(parents=True)
    (other / "private.txt").write_text(SECRET)
    workspace, home = root / "runs" / "mine" / "worktree", root / "runs" / "mine" / "home"
    workspace.mkdir(parents=True)
    home.mkdir(parents=True)
    return Tree(root, workspace, home, other, secrets)


async def run_jailed(
    sandbox: Sandbox,
    tree: Tree,
    script: str,
    workspace: Path | None = None,
    egress: EgressPolicy | None = None,
) -> Outcome:
    """Run `bash -c script` in a fresh jail for the tree's run and collect what happened."""
    refusals: list[tuple[str, int, str]] = []

    async def on_refused(host: str, port: int, reason: str) -> None:
        refusals.append((host, port, reason))

    request = JailRequest(
        run_id=uuid4().hex,
        workspace=workspace or tree.workspace,
        home=tree.home,
        egress=egress or EgressPolicy(),
    )
    async with sandbox.jail(request, on_refused) as jail:
        process = await asyncio.create_subprocess_exec(
            *jail.command(["/bin/bash", "-c", script]),
            env=jail_environment(tree),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        await asyncio.sleep(0.05)  # the refusal reports of the last connections
        left = await settled(jail.pids)
        reason = jail.reason()
    assert not uid_processes(jail.identity.uid), "a process of the jail outlived it"
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode(), reason, refusals, left)


def probe(host: str, port: int) -> str:
    """Shell that sends a request to host:port and prints any answer (Redis would say +PONG)."""
    return (
        f"(exec 3<>/dev/tcp/{host}/{port} && printf 'PING\\r\\n' >&3 "
        f"&& timeout 2 head -c 64 <&3 | sed 's/^/answer /'); "
    )


def environment_of(pid: int) -> list[bytes]:
    """A process's environment entries, without those bash sets itself."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return [entry for entry in entries if entry and entry.split(b"=")[0] not in SHELL_SETS]


def jail_environment(tree: Tree) -> dict[str, str]:
    """The environment the test hands the jail's first process (an executor's would)."""
    return {"PATH": HOST_PATH, "HOME": str(tree.home), "LANG": "C.UTF-8"}


async def settled(pids: Callable[[], set[int]]) -> set[int]:
    """The jail's processes once the pid namespace had a moment to end them."""
    left = pids()
    for _ in range(40):
        left = pids()
        if not left:
            return left
        await asyncio.sleep(0.05)
    return left


async def ignore_refusals(host: str, port: int, reason: str) -> None:
    """No refusal is expected where this is the hook; the test asserts something else."""


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to 2 s) until `condition` holds."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the jail never reached the expected state")
