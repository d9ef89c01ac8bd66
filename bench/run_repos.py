"""What a run's own repository costs: `Workspaces.prepare` against the old shared worktree.

Each round prepares one run three ways on the same mirror, alternating so all see the
same load:

- `worktree`: the old way, `git worktree add` from the shared mirror (the run can
  write the mirror's config, hooks and refs through `--git-common-dir`);
- `run repo`: `Workspaces.prepare` now, a git directory per run outside the worktree
  that borrows the mirror's objects (`objects/info/alternates`);
- `full copy`: `git clone --no-hardlinks` of the mirror, the other way to keep the
  mirror out of reach (every object copied).

The repository is generated (`--files` files of ~2 KiB, `--commits` commits). Prints
p50/p99 in milliseconds and the ratios against `worktree`:

    uv run python -m bench.run_repos --rounds 30 --files 2000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent_runner.git.untrusted_git import git
from agent_runner.git.workspaces import Workspaces

IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@dursor.invalid"]


def make_remote(root: Path, files: int, commits: int) -> Path:
    """A bare repository with `files` files spread over `commits` commits."""
    seed = root / "seed"
    seed.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=seed, check=True)
    per_commit = max(1, files // commits)
    for commit in range(commits):
        for index in range(per_commit):
            path = seed / f"src/pkg{index % 40}/file{commit}_{index}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"line {commit} {index}\n" * 100)
        subprocess.run(["git", "add", "."], cwd=seed, check=True)
        subprocess.run(["git", *IDENTITY, "commit", "-qm", f"c{commit}"], cwd=seed, check=True)
    remote = root / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(remote)], check=True)
    return remote


async def old_worktree(workspaces: Workspaces, url: str, run_id: str) -> None:
    """The old layout: a worktree of the shared mirror."""
    mirror = await workspaces.sync_mirror(url)
    target = workspaces.root / "old-worktrees" / run_id
    base = "refs/remotes/origin/main"
    await git("worktree", "add", "--quiet", "-B", f"b/{run_id}", str(target), base, cwd=mirror)


async def run_repo(workspaces: Workspaces, url: str, run_id: str) -> None:
    """Today's layout."""
    await workspaces.prepare(url, run_id, f"dursor/{run_id}", "main", None)


async def full_copy(workspaces: Workspaces, url: str, run_id: str) -> None:
    """A clone that shares nothing with the mirror."""
    mirror = await workspaces.sync_mirror(url)
    target = workspaces.root / "copies" / run_id
    await git("clone", "--quiet", "--no-hardlinks", str(mirror), str(target))


Way = Callable[[Workspaces, str, str], Awaitable[None]]
WAYS: dict[str, Way] = {"worktree": old_worktree, "run repo": run_repo, "full copy": full_copy}


async def measure(rounds: int, files: int, commits: int) -> dict[str, list[float]]:
    """Milliseconds per prepare, per way."""
    with tempfile.TemporaryDirectory(prefix="dursor-bench-") as tmp:
        root = Path(tmp)
        url = f"file://{make_remote(root / 'remote', files, commits)}"
        workspaces = Workspaces(root / "ws", fetch_freshness_seconds=3600)
        await workspaces.sync_mirror(url)
        samples: dict[str, list[float]] = {name: [] for name in WAYS}
        for index in range(rounds):
            for name, way in WAYS.items():
                started = time.perf_counter()
                await way(workspaces, url, f"r{index}-{name.replace(' ', '-')}")
                samples[name].append((time.perf_counter() - started) * 1000)
        return samples


def p99(values: list[float]) -> float:
    """The 99th percentile (the maximum for fewer than 100 samples)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    samples = asyncio.run(measure(args.rounds, args.files, args.commits))
    baseline = statistics.median(samples["worktree"])
    print(f"{args.rounds} rounds, {args.files} files in {args.commits} commits")
    for name, values in samples.items():
        p50 = statistics.median(values)
        print(f"{name:>10}: p50 {p50:7.1f} ms  p99 {p99(values):7.1f} ms  x{p50 / baseline:.2f}")


if __name__ == "__main__":
    main()
