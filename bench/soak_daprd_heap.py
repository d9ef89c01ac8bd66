"""Where the daprd sidecars' memory goes under the soak's steady load: Go heap profiles compared.

Every sidecar of the chaos platform runs with `--enable-profiling` on a free loopback
port; the soak's load (one `chaos` run with its SSE watcher every `--interval` seconds)
runs for `--minutes`, and every `--every` minutes each sidecar's heap profile (after a
forced GC: the live heap), goroutine profile and Go runtime statistics are saved beside
its RSS. Prints, per sidecar, RSS, live heap and goroutines over time with their slopes,
and the sites whose live bytes grew most between the first capture after warm-up and the
last (`go tool pprof -top -base`).

    nice -n 10 uv run python -m bench.soak_daprd_heap --minutes 18 --every 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import stoppable
from bench.chaos_phases import soak
from tests.support.backing import free_port
from tests.support.chaos.cluster import ChaosCluster, chaos_cluster
from tests.support.chaos.soak import resident
from tests.support.platform import Platform, Replica

MEMSTAT = re.compile(r"^# (\w+) = (\d+)", re.MULTILINE)
GOROUTINES = re.compile(r"goroutine profile: total (\d+)")
RESIDENT = ("VmRSS", "RssAnon", "RssFile")
SHOWN_STATS = ("HeapAlloc", "HeapInuse", "HeapIdle", "HeapReleased", "Sys", "NumGC")


@dataclass
class Capture:
    """One sidecar's figures at one moment (bytes unless named otherwise)."""

    minute: float
    rss: dict[str, int]
    goroutines: int
    stats: dict[str, int]


@dataclass
class Sidecar:
    """A profiled sidecar: where its profiles go and what was captured so far."""

    replica: Replica
    folder: Path
    captures: list[Capture] = field(default_factory=list)

    @property
    def port(self) -> int:
        """The profiling port its argv names."""
        argv = self.replica.daprd_argv
        return int(argv[argv.index("--profile-port") + 1])


def profiling_flags(app_id: str) -> list[str]:
    """Profiling on a port of its own (the server binds the API's address: 127.0.0.1)."""
    return ["--enable-profiling", "--profile-port", str(free_port())]


async def capture(client: httpx.AsyncClient, sidecar: Sidecar, minute: float) -> None:
    """Save the heap and goroutine profiles; record RSS, goroutines and runtime stats."""
    base, index = f"http://127.0.0.1:{sidecar.port}/debug/pprof", len(sidecar.captures)
    heap = await client.get(f"{base}/heap", params={"gc": "1"})
    goroutine = await client.get(f"{base}/goroutine")
    text = await client.get(f"{base}/heap", params={"debug": "1"})
    count = await client.get(f"{base}/goroutine", params={"debug": "1"})
    (sidecar.folder / f"heap-{index:03d}.pb.gz").write_bytes(heap.content)
    (sidecar.folder / f"goroutine-{index:03d}.pb.gz").write_bytes(goroutine.content)
    stats = {k: int(v) for k, v in MEMSTAT.findall(text.text)}
    found = GOROUTINES.search(count.text)
    goroutines = int(found.group(1)) if found else -1
    try:
        rss = resident(sidecar.replica.daprd.pid)
    except OSError:
        rss = {}  # the sidecar died between the profile and this read
    sidecar.captures.append(Capture(minute, rss, goroutines, stats))
    print(f"{sidecar.replica.name}.daprd: {row(sidecar.captures[-1])}", flush=True)


async def capture_every(sidecars: list[Sidecar], seconds: float) -> None:
    """Capture every sidecar every `seconds`, the first at once."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        while True:
            minute = (time.monotonic() - started) / 60
            for sidecar in sidecars:
                try:
                    await capture(client, sidecar, minute)
                except httpx.HTTPError as exc:
                    print(f"{sidecar.replica.name}: capture failed: {exc!r}", flush=True)
            await asyncio.sleep(seconds)


def figure(c: Capture, name: str) -> int:
    """A capture's RSS, goroutine count or one of its runtime stats, by name."""
    if name in c.rss:
        return c.rss[name]
    if name == "goroutines":
        return c.goroutines
    return c.stats.get(name, 0)


def slope_per_minute(captures: list[Capture], value: str) -> float:
    """Least-squares slope of a figure in KiB per minute (or per minute for counts)."""
    if len(captures) < 2:
        return 0.0
    xs = [c.minute for c in captures]
    ys = [float(figure(c, value)) for c in captures]
    scale = 1.0 if value == "goroutines" else 1024.0
    return statistics.linear_regression(xs, ys).slope / scale


def row(c: Capture) -> str:
    """One capture as a table row: minute, RSS and runtime stats in MiB, goroutines."""
    shown = [
        f"{c.stats.get(s, 0):12d}" if s == "NumGC" else f"{c.stats.get(s, 0) / 2**20:12.2f}"
        for s in SHOWN_STATS
    ]
    rss = [f"{c.rss.get(k, 0) / 2**20:8.2f}" for k in RESIDENT]
    return f"{c.minute:5.1f}  " + "  ".join(rss + shown) + f"  {c.goroutines:10d}"


def print_table(sidecar: Sidecar) -> None:
    """RSS, runtime stats and goroutines per capture, then their slopes after warm-up."""
    print(f"\n== {sidecar.replica.name}.daprd (profiles in {sidecar.folder})")
    heads = [f"{k:>8}" for k in RESIDENT] + [f"{s:>12}" for s in SHOWN_STATS]
    print("  min  " + "  ".join(heads) + "  goroutines  (MiB but NumGC and goroutines)")
    for c in sidecar.captures:
        print(row(c))
    warm = sidecar.captures[1:]
    names = (*RESIDENT, "HeapAlloc", "HeapInuse", "Sys")
    figures = {v: slope_per_minute(warm, v) for v in names}
    slopes = ", ".join(f"{v} {s:+.1f} KiB/min" for v, s in figures.items())
    goroutines = slope_per_minute(warm, "goroutines")
    print(f"slopes after warm-up: {slopes}, goroutines {goroutines:+.2f}/min")


def print_live_heap(sidecar: Sidecar) -> None:
    """The sampled live heap of each heap profile (taken after a forced GC), over time."""
    go = shutil.which("go")
    if go is None:
        return
    totals = []
    for path in sorted(sidecar.folder.glob("heap-*.pb.gz")):
        argv = [go, "tool", "pprof", "-top", "-sample_index=inuse_space", str(path)]
        answer = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        found = re.search(r"of (\S+) total", answer)
        totals.append(found.group(1) if found else "?")
    print(f"live heap in the profiles (inuse_space): {' '.join(totals)}")


def print_growth(sidecar: Sidecar, kind: str, index: str, top: int) -> None:
    """`go tool pprof -top -base` between the first capture after warm-up and the last."""
    paths = sorted(sidecar.folder.glob(f"{kind}-*.pb.gz"))
    go = shutil.which("go")
    if len(paths) < 3 or go is None:
        print(f"{kind}: {len(paths)} profiles, go {'found' if go else 'missing'}: no comparison")
        return
    argv = [
        go,
        "tool",
        "pprof",
        "-top",
        f"-sample_index={index}",
        "-base",
        str(paths[1]),
        str(paths[-1]),
    ]
    answer = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = (answer.stdout or answer.stderr).splitlines()
    print(f"-- {kind} growth ({index}), {paths[1].name} -> {paths[-1].name}:")
    print("\n".join(lines[: top + 6]))


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="dursor-daprd-heap-"))
    # Every process started inherits these; only the sidecars (Go) read them. The default
    # profile rate samples one allocation per 512 KiB: too coarse for KiB-per-minute growth.
    os.environ["GODEBUG"] = f"memprofilerate={args.memprofilerate}"
    os.environ.update(dict(pair.split("=", 1) for pair in args.sidecar_env))

    def prepare(platform: Platform) -> None:
        platform.daprd_flags = profiling_flags

    async with chaos_cluster(workdir, prepare=prepare) as cluster:
        sidecars = profiled(cluster, workdir / "profiles")
        capturing = asyncio.create_task(capture_every(sidecars, args.every * 60))
        try:
            await soak(cluster, args.minutes * 60, args.interval)
        finally:
            capturing.cancel()
    for sidecar in sidecars:
        print_table(sidecar)
        print_live_heap(sidecar)
        print_growth(sidecar, "heap", "inuse_space", args.top)
        print_growth(sidecar, "goroutine", "goroutine", args.top)


def profiled(cluster: ChaosCluster, folder: Path) -> list[Sidecar]:
    """Every replica's sidecar with a folder for its profiles."""
    sidecars = []
    for replica in cluster.apps:
        (folder / replica.name).mkdir(parents=True, exist_ok=True)
        sidecars.append(Sidecar(replica, folder / replica.name))
    return sidecars


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=18.0)
    parser.add_argument("--every", type=float, default=3.0, help="minutes between captures")
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between runs")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--memprofilerate", type=int, default=4096, help="bytes per heap sample")
    parser.add_argument(
        "--sidecar-env", action="append", default=[], help="KEY=VALUE, e.g. GOMEMLIMIT=32MiB"
    )
    return parser.parse_args()


if __name__ == "__main__":
    stoppable.run(main(parse()))
