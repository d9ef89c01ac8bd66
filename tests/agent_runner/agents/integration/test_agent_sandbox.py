"""The agent jail, tried from inside with a shell: every escape fails and says why."""

from __future__ import annotations

import asyncio
import os
import shlex
from uuid import uuid4

import pytest

from agent_runner.agents.sandbox import JailRequest, RunDisk, Sandbox, SandboxPolicy
from agent_runner.agents.sandbox.schemas import MiB
from tests.support.jailed_shell import (
    LIMITS,
    SECRET,
    Tree,
    environment_of,
    ignore_refusals,
    jail_environment,
    make_tree,
    requires_bwrap,
    run_jailed,
    settled,
    until,
)

pytestmark = requires_bwrap

# Forks 100 sleeping children, prints how many started and how many the kernel refused.
FORKS = """
import os, time
started = refused = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        started += 1
    except BlockingIOError:
        refused += 1
print(started, refused)
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """The runner's folders around the jailed run."""
    return make_tree(tmp_path_factory.mktemp("runner"))


@pytest.fixture(scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """One jail-capable sandbox for the module: every test builds its jails with it."""
    policy = SandboxPolicy(state_dir=tmp_path_factory.mktemp("sandbox-state"), limits=LIMITS)
    sandbox = await Sandbox.open(policy)
    assert sandbox.verdict.jailed, sandbox.support.problems
    return sandbox


async def test_the_agent_is_an_unprivileged_user_that_writes_only_its_folders(
    sandbox: Sandbox, tree: Tree
) -> None:
    script = (
        'id -u; touch w h && touch "$HOME/h" && echo wrote; '
        "touch /usr/x || echo usr-read-only; touch /etc/x || echo etc-read-only; "
        "touch /x || echo root-read-only; unshare -r true || echo no-user-namespaces; "
        "su -c id root </dev/null || echo no-setuid; "
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"
    )
    outcome = await run_jailed(sandbox, tree, script)
    lines = outcome.stdout.split()
    assert lines[0] != "0"
    assert "wrote" in lines
    assert {"usr-read-only", "etc-read-only", "root-read-only", "no-setuid"} <= set(lines)
    assert "CapEff: 0000000000000000 CapBnd: 0000000000000000 NoNewPrivs: 1" in " ".join(lines)
    if sandbox.support.unprivileged_userns:  # the inner stage forbids nested namespaces
        assert "no-user-namespaces" in lines
    assert (tree.workspace / "w").stat().st_uid not in (0, os.getuid())


async def test_secrets_outside_the_worktree_do_not_exist_inside(
    sandbox: Sandbox, tree: Tree
) -> None:
    relative = "../../../.data/secrets.json"  # the worktree is runs/mine/worktree
    outcome = await run_jailed(sandbox, tree, f"cat {tree.secrets}; cat {relative}; ls -a ../..")
    assert SECRET not in outcome.stdout
    assert outcome.returncode == 0
    assert outcome.stdout.split() == [".", "..", "mine"]
    assert outcome.stderr.count("No such file or directory") == 2


async def test_another_runs_worktree_does_not_exist_inside(sandbox: Sandbox, tree: Tree) -> None:
    outcome = await run_jailed(sandbox, tree, f"cat {tree.other_workspace}/private.txt")
    assert outcome.returncode != 0
    assert SECRET not in outcome.stdout
    assert "No such file or directory" in outcome.stderr


async def test_the_runners_processes_and_environment_are_invisible(
    sandbox: Sandbox, tree: Tree
) -> None:
    runner = os.getpid()
    script = (
        f"cat /proc/{runner}/environ; "
        "cd /proc && echo pids [0-9]*; "
        "cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'"
    )
    outcome = await run_jailed(sandbox, tree, script)
    assert "No such file or directory" in outcome.stderr
    listed = next(line for line in outcome.stdout.splitlines() if line.startswith("pids "))
    pids = [int(word) for word in listed.split()[1:]]
    assert pids
    assert max(pids) < 50, pids  # the jail's own few processes, numbered from 1
    runner_env = environment_of(runner)
    jail_env = {f"{k}={v}".encode() for k, v in jail_environment(tree).items()}
    leaked = [
        e.decode() for e in runner_env if e and e not in jail_env and e.decode() in outcome.stdout
    ]
    assert len(runner_env) > len(jail_env)
    assert leaked == []


async def test_a_fork_bomb_stops_at_the_task_limit(sandbox: Sandbox, tree: Tree) -> None:
    outcome = await run_jailed(sandbox, tree, "bomb() { bomb | bomb & }; bomb; sleep 2")
    assert "Resource temporarily unavailable" in outcome.stderr
    assert outcome.reason is not None
    assert f"limit of {LIMITS.pids} tasks" in outcome.reason


async def test_allocating_4_gib_is_stopped_by_the_memory_limit(
    sandbox: Sandbox, tree: Tree
) -> None:
    outcome = await run_jailed(sandbox, tree, 'python3 -c \'b = b"x" * (4 << 30); print("got")\'')
    assert "got" not in outcome.stdout
    assert outcome.returncode != 0
    assert outcome.reason is not None
    assert "ran out of memory" in outcome.reason


async def test_writing_2_gib_stops_at_the_run_disk(sandbox: Sandbox, tree: Tree) -> None:
    run_dir = tree.root / "runs" / "capped"
    disk = RunDisk(tree.root / "disks" / "capped.img", run_dir)
    await disk.attach(128 * MiB, 0, 0)
    try:
        workspace = run_dir / "worktree"
        workspace.mkdir()
        script = "dd if=/dev/zero of=big bs=1M count=2048 status=none || echo stopped"
        outcome = await run_jailed(sandbox, tree, script, workspace=workspace)
        assert "stopped" in outcome.stdout
        assert "No space left on device" in outcome.stderr
        assert outcome.reason is not None
        assert "disk is full" in outcome.reason
        assert (workspace / "big").stat().st_size < 128 * MiB
        assert disk.image.stat().st_blocks * 512 <= 128 * MiB
    finally:
        await disk.destroy()
    assert not disk.is_mounted()
    assert not disk.image.exists()


async def test_a_setsid_double_forked_child_dies_with_the_jail(
    sandbox: Sandbox, tree: Tree
) -> None:
    marker = tree.home / "escaped"
    script = f"( setsid bash -c 'sleep 0.5; echo out > {marker}; sleep 300' & ); echo started"
    outcome = await run_jailed(sandbox, tree, script)
    assert outcome.stdout.strip() == "started"
    assert outcome.left_after_exit == set()  # the pid namespace ended it, not a kill of ours
    await asyncio.sleep(1.0)
    assert not marker.exists()


async def test_killing_the_jails_first_process_ends_every_process_of_the_jail(
    sandbox: Sandbox, tree: Tree
) -> None:
    request = JailRequest(run_id=uuid4().hex, workspace=tree.workspace, home=tree.home)
    script = "( setsid sleep 300 & ); sleep 300"
    async with sandbox.jail(request, ignore_refusals) as jail:
        process = await asyncio.create_subprocess_exec(
            *jail.command(["/bin/bash", "-c", script]), env=jail_environment(tree)
        )
        await until(lambda: len(jail.pids()) >= 4)  # bwrap's init, bash, both sleeps
        process.kill()  # what a runner's timeout does to the agent it started
        await process.wait()
        assert await settled(jail.pids) == set()


async def test_terminate_ends_an_agent_that_ignores_sigterm(sandbox: Sandbox, tree: Tree) -> None:
    request = JailRequest(run_id=uuid4().hex, workspace=tree.workspace, home=tree.home)
    script = "trap '' TERM; while :; do sleep 0.1; done"
    async with sandbox.jail(request, ignore_refusals) as jail:
        process = await asyncio.create_subprocess_exec(
            *jail.command(["/bin/bash", "-c", script]), env=jail_environment(tree)
        )
        await until(lambda: len(jail.pids()) >= 3)
        await jail.terminate(grace_seconds=0.5)
        assert jail.pids() == set()
        assert await asyncio.wait_for(process.wait(), 5) != 0


@pytest.fixture(scope="module")
async def rlimit_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """A sandbox that ignores control groups: the fallback of hosts without them."""
    policy = SandboxPolicy(
        state_dir=tmp_path_factory.mktemp("rlimit-state"), limits=LIMITS, use_cgroups=False
    )
    sandbox = await Sandbox.open(policy)
    assert sandbox.support.cgroup_mode == "none"
    return sandbox


async def test_without_cgroups_rlimits_still_stop_memory_and_tasks(
    rlimit_sandbox: Sandbox, tree: Tree
) -> None:
    script = (
        "python3 -c 'b = b\"x\" * (4 << 30)' || echo memory-refused; "
        f"python3 -c {shlex.quote(FORKS)}"
    )
    outcome = await run_jailed(rlimit_sandbox, tree, script)
    assert "MemoryError" in outcome.stderr
    assert "memory-refused" in outcome.stdout
    started, refused = (int(n) for n in outcome.stdout.split()[-2:])
    assert 0 < started < LIMITS.pids
    assert refused == 100 - started
