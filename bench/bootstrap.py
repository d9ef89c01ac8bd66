"""Bootstrap time on a fresh clone with empty caches, then warm; ours against a baseline commit.

For each commit (the baseline first, when given): `git clone` into a temporary directory;
a HOME, XDG_CACHE_HOME, GOPATH, GOMODCACHE, GOCACHE, uv cache and npm cache of its own,
all empty; PostgreSQL and Redis on free ports of their own; then the bootstrap phase of
`.ci/run` (`bash scripts/bootstrap.sh --with-test-tools`) timed from outside, cold, and
`--warm-runs` more times, warm. It prints the wall times, the bootstrap's own timing lines,
the size of daprd and the load average while the cold run ran (the machine may be shared),
stops the Redis and PostgreSQL the clone started and removes the directory.

    uv run python -m bench.bootstrap                          # HEAD only
    uv run python -m bench.bootstrap --baseline <commit>      # then ours/baseline ratios
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.backing import free_port

ROOT = Path(__file__).resolve().parents[1]
# The bootstrap's own timing lines: the baseline's "daprd built in N s", ours per step.
TIMING_LINE = re.compile(r"built in|done in|bootstrap done")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
STRIPPED_ENV_PREFIXES = ("DURSOR_", "DAPR_", "VIRTUAL_ENV", "UV", "GOCACHE", "GOMODCACHE")


@dataclass
class Result:
    """One commit's figures."""

    commit: str
    cold_s: float
    warm_s: list[float]
    daprd_bytes: int
    load: list[float]
    timing_lines: list[str] = field(default_factory=list)

    @property
    def warm_median(self) -> float:
        """Median warm wall time (nan without warm runs)."""
        return statistics.median(self.warm_s) if self.warm_s else float("nan")


class LoadSampler:
    """The 1-minute load average every few seconds while a run lasts."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)

    def _sample(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self.samples.append(os.getloadavg()[0])
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def fresh_environment(home: Path) -> dict[str, str]:
    """This process's environment with every cache moved under an empty `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV_PREFIXES)}
    # Nothing the bootstrap installed before may be found on PATH (it reuses a `dapr`).
    ours = [str(Path.home() / d) for d in (".cache", ".local", "go")]
    ours += [
        os.environ[k]
        for k in ("DURSOR_CACHE", "DURSOR_DAPR_RUNTIME", "DURSOR_DAPR_CLI_HOME")
        if k in os.environ
    ]
    env["PATH"] = ":".join(
        p
        for p in env.get("PATH", "").split(":")
        if not p.startswith(tuple(ours)) and ".venv" not in p
    )
    env |= {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GOPATH": str(home / "go"),
        "GOMODCACHE": str(home / "go" / "pkg" / "mod"),
        "GOCACHE": str(home / ".cache" / "go-build"),
        "UV_CACHE_DIR": str(home / ".cache" / "uv"),
        "npm_config_cache": str(home / ".npm"),
        "DURSOR_PG_PORT": str(free_port()),
        "DURSOR_REDIS_PORT": str(free_port()),
    }
    # Machine settings (registry certificates, Node headers), not a cache.
    npmrc = Path.home() / ".npmrc"
    if npmrc.exists():
        shutil.copy(npmrc, home / ".npmrc")
    return env


def timed_bootstrap(clone: Path, env: dict[str, str], log: Path) -> float:
    """Wall seconds of one `nice -n 10 bash scripts/bootstrap.sh --with-test-tools`."""
    started = time.monotonic()
    with log.open("a") as out:
        done = subprocess.run(
            ["nice", "-n", "10", "bash", "scripts/bootstrap.sh", "--with-test-tools"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"bootstrap failed (exit {done.returncode}); see {log}")
    return elapsed


def stop_servers(clone: Path, env: dict[str, str]) -> None:
    """Stop the Redis and PostgreSQL the clone's bootstrap started."""
    subprocess.run(
        ["redis-cli", "-p", env["DURSOR_REDIS_PORT"], "shutdown", "nosave"],
        capture_output=True,
        check=False,
    )
    pgdata = clone / ".data" / "postgres"
    pg_ctl = next(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), None)
    if pg_ctl is not None and (pgdata / "postmaster.pid").exists():
        owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*owner, str(pg_ctl), "-D", str(pgdata), "stop", "-m", "fast"],
            capture_output=True,
            check=False,
        )


def measure(commit: str, warm_runs: int, keep: Path | None) -> Result:
    """Cold then warm bootstrap of `commit` on a fresh clone with empty caches."""
    workdir = Path(tempfile.mkdtemp(prefix="bootstrap-bench-"))
    workdir.chmod(0o755)  # PostgreSQL runs as its own user inside the clone's .data/
    clone, home = workdir / "clone", workdir / "home"
    home.mkdir()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", commit], check=True)
    env = fresh_environment(home)
    log = workdir / "bootstrap.log"
    print(f"{commit[:12]}: cold bootstrap in {clone} (log {log})", flush=True)
    try:
        with LoadSampler() as load:
            cold = timed_bootstrap(clone, env, log)
        warm = [timed_bootstrap(clone, env, log) for _ in range(warm_runs)]
        daprd = next((home / ".cache" / "dursor").glob("dapr-*/libexec/daprd"))
        lines = [line for line in log.read_text().splitlines() if TIMING_LINE.search(line)]
        return Result(commit, cold, warm, daprd.resolve().stat().st_size, load.samples, lines)
    finally:
        stop_servers(clone, env)
        if keep is None:
            subprocess.run(["chmod", "-R", "u+w", str(workdir)], check=False)
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            shutil.move(workdir, keep / workdir.name)


def report(result: Result) -> None:
    """One commit's figures."""
    load = result.load
    print(f"\n== {result.commit[:12]}")
    for line in result.timing_lines[:12]:
        print(f"   {COLOUR.sub('', line)}")
    warm = ", ".join(f"{s:.1f}" for s in result.warm_s)
    print(f"cold bootstrap {result.cold_s:7.1f} s")
    print(f"warm bootstrap {result.warm_median:7.1f} s median ({warm})")
    print(f"daprd          {result.daprd_bytes / 1e6:7.1f} MB")
    print(f"load average   {statistics.mean(load):7.1f} mean, {max(load):.1f} max (1 min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="HEAD", help="what to measure (default HEAD)")
    parser.add_argument("--baseline", help="a commit to measure first, for ratios")
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep clones and logs in this directory")
    args = parser.parse_args()

    def resolve(ref: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True, text=True, check=True
        ).stdout.strip()

    print(f"{os.cpu_count()} CPUs; caches, ports and clone of each run are its own")
    results = [measure(resolve(c), args.warm_runs, args.keep) for c in [args.baseline] if c]
    results.append(measure(resolve(args.commit), args.warm_runs, args.keep))
    for result in results:
        report(result)
    if len(results) == 2:
        base, ours = results
        print("\nours/baseline")
        print(f"cold bootstrap {ours.cold_s / base.cold_s:7.2f}")
        print(f"warm bootstrap {ours.warm_median / base.warm_median:7.2f}")
        print(f"daprd size     {ours.daprd_bytes / base.daprd_bytes:7.2f}")


if __name__ == "__main__":
    main()
