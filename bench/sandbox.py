"""Agent jail: start + teardown cost per run against the same command without a jail.

Each round runs one command plainly and once in a fresh jail (identity, /etc files,
control group, network namespace, egress proxy, bubblewrap, teardown), alternating so
both see the same load. Also times a run disk (sparse ext4 image: mkfs + loop mount,
unmount + delete). `--stages` also times each program of the jail's command chain
alone in front of `/bin/true` (where the remaining cost sits). Run as root with
bubblewrap installed:

    uv run python -m bench.sandbox --rounds 40 --stages
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import uuid4

from agent_runner.agents.sandbox import (
    EgressPolicy,
    Jail,
    JailRequest,
    RunDisk,
    Sandbox,
    SandboxPolicy,
)
from agent_runner.agents.sandbox.limits import rlimit_options
from agent_runner.agents.sandbox.schemas import GiB

NODE_TOOLS = Path.home() / ".cache" / "dursor" / "node-tools"
ENV = {"PATH": f"{NODE_TOOLS / 'node_modules' / '.bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}


def commands() -> dict[str, list[str]]:
    """The commands to time: a no-op, Node starting, and an agent CLI when installed."""
    found = {"true": ["/bin/true"], "node -e 0": ["node", "-e", "0"]}
    claude = NODE_TOOLS / "node_modules" / ".bin" / "claude"
    if claude.exists():
        found["claude --version"] = [str(claude), "--version"]
    return found


async def run_plain(argv: list[str], home: Path) -> None:
    """The command as an executor starts it today."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=ENV | {"HOME": str(home)},
        stdout=asyncio.subprocess.DEVNULL,
        cwd=home.parent / "worktree",
    )
    if await process.wait() != 0:
        raise RuntimeError(f"{argv} failed without a jail")


async def run_jailed(sandbox: Sandbox, argv: list[str], home: Path) -> tuple[float, float]:
    """The command in a fresh jail; returns (setup seconds, teardown seconds)."""

    async def ignore(host: str, port: int, reason: str) -> None:
        return None

    request = JailRequest(uuid4().hex, home.parent / "worktree", home, EgressPolicy())
    started = time.perf_counter()
    context = sandbox.jail(request, ignore)
    jail = await context.__aenter__()
    ready = time.perf_counter()
    try:
        process = await asyncio.create_subprocess_exec(
            *jail.command(argv), env=ENV | {"HOME": str(home)}, stdout=asyncio.subprocess.DEVNULL
        )
        if await process.wait() != 0:
            raise RuntimeError(f"{argv} failed in the jail")
    finally:
        ended = time.perf_counter()
        await context.__aexit__(None, None, None)
    return ready - started, time.perf_counter() - ended


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    """Seconds one awaited action takes."""
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) * 1000, cuts[98] * 1000


async def bench_command(
    sandbox: Sandbox, name: str, argv: list[str], root: Path, rounds: int
) -> None:
    """Alternate plain and jailed runs of one command and print both with their ratio."""
    home = root / "home"
    plain: list[float] = []
    jailed: list[float] = []
    setup: list[float] = []
    teardown: list[float] = []
    for _ in range(rounds + 2):
        plain.append(await timed(lambda: run_plain(argv, home)))
        start = time.perf_counter()
        before, after = await run_jailed(sandbox, argv, home)
        jailed.append(time.perf_counter() - start)
        setup.append(before)
        teardown.append(after)
    plain, jailed, setup, teardown = (s[2:] for s in (plain, jailed, setup, teardown))  # warm-up
    (p50, p99), (j50, j99) = percentiles(plain), percentiles(jailed)
    print(
        f"| {name} | {p50:.1f} / {p99:.1f} | {j50:.1f} / {j99:.1f} | {j50 - p50:+.1f} "
        f"| {j50 / p50:.2f}x / {j99 / p99:.2f}x | {percentiles(setup)[0]:.1f} "
        f"| {percentiles(teardown)[0]:.1f} |"
    )


def chain_stages(sandbox: Sandbox, jail: Jail) -> dict[str, list[str]]:
    """Each program of the jail's chain alone in front of /bin/true, and the whole chain."""
    tools, true = sandbox.tools, ["/bin/true"]
    drop = jail._drop_root()  # the bench takes the chain apart
    setpriv = drop[: drop.index(tools["prlimit"])]
    joins = "".join(f"echo $$ > {p}; " for p in jail.cgroup.procs_files()) if jail.cgroup else ""
    inner = [tools["bwrap"], "--unshare-user", "--disable-userns", "--dev-bind", "/", "/"]
    limits = rlimit_options(jail.limits, sandbox.support.cgroup_mode)
    return {
        "plain": true,
        "sh joining the control groups": ["/bin/sh", "-c", f'{joins}exec "$@"', "sh", *true],
        "nsenter (network namespace)": [
            tools["nsenter"], f"--net={jail.network.nsenter_path()}", "--", *true
        ],
        "bwrap as root (namespaces, mounts)": [
            tools["bwrap"], *jail._bwrap_args(), "--", *true
        ],
        "setpriv (drop to the jail uid)": [*setpriv, *true],
        "prlimit": [tools["prlimit"], *limits, "--", *true],
        "setpriv + bwrap in a user namespace": [*setpriv, *inner, "--uid", "1000", "--", *true],
        "whole chain": jail.command(true),
    }  # fmt: skip


async def bench_stages(sandbox: Sandbox, root: Path, rounds: int) -> None:
    """Time each stage of one live jail's chain, interleaved, and print their p50."""

    async def ignore(host: str, port: int, reason: str) -> None:
        return None

    request = JailRequest(uuid4().hex, root / "worktree", root / "home", EgressPolicy())
    async with sandbox.jail(request, ignore) as jail:
        stages = chain_stages(sandbox, jail)
        samples: dict[str, list[float]] = {name: [] for name in stages}
        for _ in range(rounds):
            for name, argv in stages.items():
                samples[name].append(await timed(lambda argv=argv: run_checked(argv)))  # type: ignore[misc]
    print("| stage (alone, before /bin/true) | p50 ms | p99 ms |")
    print("|---|---|---|")
    for name, times in samples.items():
        p50, p99 = percentiles(times)
        print(f"| {name} | {p50:.1f} | {p99:.1f} |")


async def run_checked(argv: list[str]) -> None:
    """Run `argv` to its end; it must succeed."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL)
    if await process.wait() != 0:
        raise RuntimeError(f"{argv[0]} failed")


async def bench_disk(root: Path, rounds: int) -> None:
    """mkfs + loop mount and unmount + delete of a 10 GiB sparse run disk."""
    attach: list[float] = []
    destroy: list[float] = []
    for index in range(rounds):
        disk = RunDisk(root / "disks" / f"{index}.img", root / "mounts" / str(index))
        attach.append(await timed(lambda disk=disk: disk.attach(10 * GiB, 0, 0)))  # type: ignore[misc]
        destroy.append(await timed(disk.destroy))
    (a50, a99), (d50, d99) = percentiles(attach), percentiles(destroy)
    print(
        f"run disk (10 GiB sparse ext4): attach p50 {a50:.1f} ms p99 {a99:.1f} ms, "
        f"destroy p50 {d50:.1f} ms p99 {d99:.1f} ms (once per run and worker, not per turn)"
    )


async def main(rounds: int, stages: bool) -> None:
    """Probe the host, then time every command and the run disk."""
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        (root / "home").mkdir()
        (root / "worktree").mkdir()
        policy = SandboxPolicy(state_dir=root / "state", read_only=(NODE_TOOLS,))
        sandbox = await Sandbox.open(policy)
        support = sandbox.support
        print(
            f"bwrap {support.bwrap_version}, cgroups {support.cgroup_mode}, "
            f"tripwire {support.tripwire}, inner user namespace {support.unprivileged_userns}; "
            f"{rounds} rounds after 2 warm-up rounds"
        )
        print(
            "| command | plain p50 / p99 ms | jailed p50 / p99 ms | added p50 ms "
            "| ratio p50 / p99 | jail setup p50 ms | jail teardown p50 ms |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, argv in commands().items():
            await bench_command(sandbox, name, argv, root, rounds)
        if support.loop_disk:
            await bench_disk(root, max(5, rounds // 4))
        if stages:
            await bench_stages(sandbox, root, rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--stages", action="store_true", help="time each stage of the chain")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.stages))
