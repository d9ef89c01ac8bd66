"""Where run-api's memory grows under the soak's steady load: tracemalloc snapshots compared.

The chaos platform runs with a `sitecustomize` that starts `tracemalloc` in the run-api
process only, `--every` seconds after start-up, then dumps a snapshot every `--every`
seconds; the soak's load (one `chaos` run with its SSE watcher every `--interval`
seconds) runs meanwhile. Prints the
allocation sites whose live size grew most between the first snapshot after warm-up and
the last, and the traced total over time (tracemalloc's own overhead is not in it).

    nice -n 10 uv run python -m bench.soak_tracemalloc --minutes 12 --every 120
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import tracemalloc
from pathlib import Path

from bench.chaos_phases import soak
from tests.support.chaos.cluster import chaos_cluster
from tests.support.platform import Platform

SITECUSTOMIZE = """
import os, sys, threading, time, tracemalloc
folder = os.environ.get("DURSOR_TRACEMALLOC_DIR")
if folder and any("run_api" in part for part in sys.argv):
    every = float(os.environ["DURSOR_TRACEMALLOC_EVERY"])
    def dump():
        time.sleep(every)  # after start-up: imports are not what grows
        tracemalloc.start(10)
        index = 0
        while True:
            time.sleep(every)
            tracemalloc.take_snapshot().dump(f"{folder}/snap-{index:03d}.pickle")
            index += 1
    threading.Thread(target=dump, daemon=True).start()
"""


def compare(folder: Path, top: int) -> None:
    """Growth by traceback between the second snapshot and the last; totals over time."""
    paths = sorted(folder.glob("snap-*.pickle"))
    if len(paths) < 3:
        print(f"only {len(paths)} snapshots in {folder}")
        return
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<*>")]
    snaps = [tracemalloc.Snapshot.load(str(p)).filter_traces(ignore) for p in paths]
    for path, snap in zip(paths, snaps, strict=True):
        total = sum(stat.size for stat in snap.statistics("filename"))
        print(f"{path.name}: traced {total / 2**20:.2f} MiB")
    first, last = snaps[1], snaps[-1]
    for stat in last.compare_to(first, "traceback")[:top]:
        print(f"\n+{stat.size_diff / 1024:.1f} KiB ({stat.count_diff:+d} blocks)")
        for line in stat.traceback.format(limit=12):
            print(f"  {line}")


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="dursor-tracemalloc-"))
    snapshots, site = workdir / "snapshots", workdir / "site"
    snapshots.mkdir()
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)

    def prepare(platform: Platform) -> None:
        platform.env["PYTHONPATH"] = str(site)
        platform.env["DURSOR_TRACEMALLOC_DIR"] = str(snapshots)
        platform.env["DURSOR_TRACEMALLOC_EVERY"] = str(args.every)

    async with chaos_cluster(workdir, prepare=prepare) as cluster:
        await soak(cluster, args.minutes * 60, args.interval)
    compare(snapshots, args.top)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--every", type=float, default=120.0, help="seconds between snapshots")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between runs")
    parser.add_argument("--top", type=int, default=12)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
