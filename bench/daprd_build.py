"""Cold daprd build alone: ours against a baseline commit, each with empty Go caches.

For each commit (the baseline first): tools/daprd of that commit is exported with
`git archive` into a temporary directory with a GOMODCACHE and GOCACHE of its own, both
empty; `go mod download` is timed (the module proxy), then `go build` of daprd alone with
the flags and `-tags` that commit's scripts/bootstrap.sh uses (an empty build cache, the
modules already on disk). Prints both, the binary sizes, the load average while each
ran (the machine may be shared) and the ratios; removes the directories.

    uv run python -m bench.daprd_build --baseline <commit>    # ours = HEAD
    uv run python -m bench.daprd_build                        # HEAD alone, no ratio
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bootstrap import LoadSampler

ROOT = Path(__file__).resolve().parents[1]
TAGS = re.compile(r"go build -tags (\S+)")
LDFLAGS = "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=1.18.1"


@dataclass
class Build:
    """One commit's figures."""

    commit: str
    tags: str
    download_s: float
    build_s: float
    size: int
    load_mean: float
    load_max: float


def file_at(commit: str, path: str) -> str:
    """A file's text at a commit."""
    return subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def export_module(commit: str, into: Path) -> Path:
    """tools/daprd of `commit`, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "tools/daprd"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "tools" / "daprd"


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds of `nice -n 10 cmd`, and the mean and max 1-minute load meanwhile."""
    started = time.monotonic()
    with LoadSampler() as load:
        subprocess.run(["nice", "-n", "10", *cmd], cwd=cwd, env=env, check=True)
    return time.monotonic() - started, sum(load.samples) / len(load.samples), max(load.samples)


def measure(commit: str) -> Build:
    """Module download, then a cold build of daprd, of `commit`'s tools/daprd."""
    workdir = Path(tempfile.mkdtemp(prefix="daprd-build-bench-"))
    try:
        module = export_module(commit, workdir)
        found = TAGS.search(file_at(commit, "scripts/bootstrap.sh"))
        tags = found.group(1) if found else ""
        env = os.environ | {
            "GOMODCACHE": str(workdir / "mod"),
            "GOCACHE": str(workdir / "build-cache"),
            "GOFLAGS": "-mod=readonly",
        }
        print(f"{commit[:12]}: tags {tags or '(none)'}, in {workdir}", flush=True)
        download, _, _ = timed(["go", "mod", "download"], module, env)
        out = workdir / "daprd"
        build = ["go", "build", *(["-tags", tags] if tags else []), "-trimpath"]
        build_s, load_mean, load_max = timed(
            [*build, "-ldflags", LDFLAGS, "-o", str(out), "."], module, env
        )
        return Build(commit, tags, download, build_s, out.stat().st_size, load_mean, load_max)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(workdir)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def report(build: Build) -> None:
    """One commit's figures."""
    print(f"\n== {build.commit[:12]} (tags: {build.tags or 'none'})")
    print(f"module download {build.download_s:7.1f} s")
    print(f"daprd build     {build.build_s:7.1f} s (empty build cache)")
    print(f"daprd binary    {build.size / 1e6:7.1f} MB")
    print(f"load average    {build.load_mean:7.1f} mean, {build.load_max:.1f} max (1 min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="HEAD", help="what to measure (default HEAD)")
    parser.add_argument("--baseline", help="the commit to compare with (omit: ours alone)")
    args = parser.parse_args()

    def resolve(ref: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True, text=True, check=True
        ).stdout.strip()

    go = subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout
    print(f"{os.cpu_count()} CPUs; {go.strip()}")
    if args.baseline is None:
        report(measure(resolve(args.commit)))
        return
    base, ours = (measure(resolve(c)) for c in (args.baseline, args.commit))
    for build in (base, ours):
        report(build)
    print("\nours/baseline")
    print(f"daprd build     {ours.build_s / base.build_s:7.2f}")
    print(f"module download {ours.download_s / base.download_s:7.2f}")
    print(f"daprd binary    {ours.size / base.size:7.2f}")


if __name__ == "__main__":
    main()
