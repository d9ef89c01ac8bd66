"""The cached setup layer: a run's setup when the lockfiles did not change, run vs restored.

Each round starts from an empty cache and prepares two runs of the same repository (a
`uv.lock`, a `.gitignore` for `.venv/`) with the same setup command, real work that
leaves many ignored files: `python3 -m venv .venv` (which installs pip into it). Timed,
with the attempt's own code (`run_setup`, `SetupCache.key/lookup/save/restore`),
unjailed so the figure is the layer's own:

- `first run`: the cache misses, the command runs and its result is kept;
- `second run`: the same key hits, the result is restored into the new worktree and
  the command is skipped;
- `no cache`: the command alone, without keeping anything (the baseline a worker with
  `DURSOR_SETUP_CACHE=false` pays every run).

Prints p50 per kind in seconds and the ratios:

    uv run python -m bench.setup_cache --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from agent_runner.agents.executors.base import AgentInvocation
from agent_runner.agents.process import ProcessLimits
from agent_runner.git.workspaces import Workspaces
from agent_runner.runs.environment_file import EnvironmentFile
from agent_runner.runs.setup import run_setup
from agent_runner.runs.setup_cache import SetupCache
from dursor_contracts.executors import CommandOptions

IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@dursor.invalid"]
SETUP = ["python3 -m venv .venv"]
LIMITS = ProcessLimits(
    wall_clock_seconds=600, idle_seconds=600, output_cap_bytes=1 << 24, kill_grace_seconds=1
)


class QuietSink:
    """Where the setup's output goes: nowhere (the bench times, it does not read)."""

    async def log(self, stream: str, line: str) -> None:
        """Drop a line."""

    async def progress(self, message: str) -> None:
        """Drop a step."""


def make_remote(root: Path) -> Path:
    """A bare repository with a lockfile and `.venv/` ignored."""
    seed = root / "seed"
    seed.mkdir(parents=True)
    (seed / "uv.lock").write_text("version = 1\n")
    (seed / ".gitignore").write_text(".venv/\n")
    (seed / "app.py").write_text("print('hello')\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=seed, check=True)
    subprocess.run(["git", "add", "."], cwd=seed, check=True)
    subprocess.run(["git", *IDENTITY, "commit", "-qm", "seed"], cwd=seed, check=True)
    remote = root / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(remote)], check=True)
    return remote


async def one_run(workspaces: Workspaces, url: str, cache: SetupCache | None) -> tuple[float, bool]:
    """Prepare a run and set it up; (seconds spent on setup, whether the cache hit)."""
    run_id = uuid4().hex
    worktree = await workspaces.prepare(url, run_id, f"dursor/{run_id[:12]}", "main", None)
    repo = workspaces.repo(run_id)
    base = await repo.rev("HEAD")
    environment = EnvironmentFile(setup=SETUP)
    invocation = AgentInvocation(
        run_id=uuid4(),
        turn=1,
        instruction="",
        workspace=worktree,
        home=workspaces.home_path(run_id),
        model=None,
        options=CommandOptions(template="bench"),
        session_id=None,
        credential=None,
        limits=LIMITS,
    )
    started = time.perf_counter()
    if cache is None:
        await run_setup(SETUP, invocation, QuietSink())
        return time.perf_counter() - started, False
    key = await cache.key(repo, base, environment, {})
    cached = cache.lookup(url, key)
    if cached is not None:
        await cache.restore(cached, worktree)
    else:
        exported = await run_setup(SETUP, invocation, QuietSink())
        await cache.save(url, key, repo, environment, exported)
    spent = time.perf_counter() - started
    assert (worktree / ".venv" / "bin" / "pip").exists(), "the setup's result is in the worktree"
    return spent, cached is not None


async def measure(rounds: int) -> dict[str, list[float]]:
    """Seconds per kind over `rounds` rounds, each from an empty cache."""
    times: dict[str, list[float]] = {"no cache": [], "first run": [], "second run": []}
    with tempfile.TemporaryDirectory(prefix="bench-setup-cache-") as tmp:
        root = Path(tmp)
        url = f"file://{make_remote(root)}"
        workspaces = Workspaces(root / "workspaces")
        for index in range(rounds):
            cache = SetupCache(root / f"cache-{index}")
            times["no cache"].append((await one_run(workspaces, url, None))[0])
            first, hit = await one_run(workspaces, url, cache)
            assert not hit
            times["first run"].append(first)
            second, hit = await one_run(workspaces, url, cache)
            assert hit
            times["second run"].append(second)
    return times


def main() -> None:
    """Measure and print p50s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times = asyncio.run(measure(args.rounds))
    p50 = {kind: statistics.median(values) for kind, values in times.items()}
    for kind, value in p50.items():
        print(
            f"{kind:>11}: p50 {value:7.3f} s  (all: {', '.join(f'{v:.3f}' for v in times[kind])})"
        )
    print(f"second run / first run: {p50['second run'] / p50['first run']:.3f}")
    print(f"second run / no cache:  {p50['second run'] / p50['no cache']:.3f}")
    print(f"first run / no cache:   {p50['first run'] / p50['no cache']:.3f} (the cost of keeping)")


if __name__ == "__main__":
    main()
