"""Agent jail: start + teardown cost per run against the same command without a jail.

Each round runs one command plainly and once in a fresh jail (identity, /etc files,
control group, network namespace, egress proxy, bubblewrap, teardown), alternating so
both see the same load. Also times a run disk (sparse ext4 image: mkfs + loop mount,
unmount + delete). Run as root with bubblewrap installed:

    uv run python -m bench.sandbox --rounds 40
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

from agent_runner.agents.sandbox import EgressPolicy, JailRequest, RunDisk, Sandbox, SandboxPolicy
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


async def main(rounds: int) -> None:
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
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
