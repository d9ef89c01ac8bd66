"""Where a service's memory grows under the soak's steady load: tracemalloc snapshots compared.

The chaos platform runs with a `sitecustomize` that starts `tracemalloc` in every replica
of `--process` (run-api by default, e.g. `--process agent-runner` for both runners),
`--every` seconds after start-up, then dumps a snapshot every `--every` seconds into the
replica's own folder, with the process's RSS, threads, anonymous mappings and the count of
live objects of each type beside it; the soak's load (one `chaos` run with its SSE
watcher every `--interval` seconds) runs meanwhile. Prints per replica the traced total
over time next to RSS (a flat traced heap under a growing RSS points outside Python's
objects: allocator arenas, C libraries), and the allocation sites whose live size grew
most between the first snapshot after warm-up and the last (tracemalloc's own overhead
is not in it).

    nice -n 10 uv run python -m bench.soak_tracemalloc --minutes 12 --every 120
    nice -n 10 uv run python -m bench.soak_tracemalloc --process agent-runner --minutes 15
"""

from __future__ import annotations

import argparse
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from bench import stoppable
from bench.chaos_phases import soak
from tests.support.chaos.cluster import chaos_cluster
from tests.support.platform import Platform

# Popped from the environment so that the replica's own child processes do not trace.
SITECUSTOMIZE = """
import collections, gc, json, os, re, threading, time, tracemalloc
folder = os.environ.pop("DURSOR_TRACEMALLOC_DIR", None)
wanted = os.environ.pop("DURSOR_TRACEMALLOC_APP", None)
if folder and wanted and os.environ.get("APP_ID") == wanted:
    every = float(os.environ["DURSOR_TRACEMALLOC_EVERY"])
    spans = os.environ.get("DURSOR_OTEL_SPANS_FILE", "")
    replica = os.path.basename(spans).split(".")[0] or f"{wanted}-{os.getpid()}"
    folder = os.path.join(folder, replica)
    os.makedirs(folder, exist_ok=True)
    def process_figures():
        status = open("/proc/self/status").read()
        figures = {
            key: int(re.search(rf"{key}:\\s+(\\d+)", status).group(1))
            for key in ("VmRSS", "Threads")
        }
        anon = [0, 0]
        with open("/proc/self/smaps") as smaps:
            header = True
            for line in smaps:
                parts = line.split()
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    header = len(parts) < 6 or parts[5] == "[heap]"  # no file behind it
                elif header and parts[0] == "Rss:":
                    anon[0] += 1
                    anon[1] += int(parts[1])
        figures["anon_maps"], figures["anon_rss_kib"] = anon
        types = collections.Counter(type(o).__name__ for o in gc.get_objects())
        figures["types"] = dict(types)
        return figures
    def dump():
        time.sleep(every)  # after start-up: imports are not what grows
        tracemalloc.start(10)
        index = 0
        while True:
            time.sleep(every)
            tracemalloc.take_snapshot().dump(f"{folder}/snap-{index:03d}.pickle")
            with open(f"{folder}/snap-{index:03d}.json", "w") as out:
                json.dump(process_figures(), out)
            index += 1
    threading.Thread(target=dump, daemon=True).start()
"""


def _figures(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".json")
    figures: dict[str, Any] = json.loads(side.read_text()) if side.exists() else {}
    return figures


def _type_growth(first: dict[str, Any], last: dict[str, Any], top: int) -> str:
    before, after = first.get("types", {}), last.get("types", {})
    growth = sorted(((after[n] - before.get(n, 0), n) for n in after), reverse=True)
    return ", ".join(f"{name} {count:+d}" for count, name in growth[:top] if count > 0)


def compare(folder: Path, top: int) -> None:
    """Growth by traceback between the second snapshot and the last; totals over time."""
    paths = sorted(folder.glob("snap-*.pickle"))
    print(f"\n== {folder.name}")
    if len(paths) < 3:
        print(f"only {len(paths)} snapshots in {folder}")
        return
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<*>")]
    snaps = [tracemalloc.Snapshot.load(str(p)).filter_traces(ignore) for p in paths]
    figures = [_figures(p) for p in paths]
    for path, snap, fig in zip(paths, snaps, figures, strict=True):
        total = sum(stat.size for stat in snap.statistics("filename"))
        rss, anon = fig.get("VmRSS", 0) / 1024, fig.get("anon_rss_kib", 0) / 1024
        print(
            f"{path.stem}: traced {total / 2**20:.2f} MiB, RSS {rss:.1f} MiB,"
            f" threads {fig.get('Threads', '?')}, anon maps {fig.get('anon_maps', '?')}"
            f" ({anon:.1f} MiB), objects {sum(fig.get('types', {}).values())}"
        )
    print(f"object types grown: {_type_growth(figures[1], figures[-1], top)}")
    for stat in snaps[-1].compare_to(snaps[1], "traceback")[:top]:
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
        platform.env["DURSOR_TRACEMALLOC_APP"] = args.process
        platform.env["DURSOR_TRACEMALLOC_EVERY"] = str(args.every)

    async with chaos_cluster(workdir, prepare=prepare) as cluster:
        await soak(cluster, args.minutes * 60, args.interval)
    for folder in sorted(p for p in snapshots.iterdir() if p.is_dir()):
        compare(folder, args.top)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process", default="run-api", help="app id: every replica is traced")
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--every", type=float, default=120.0, help="seconds between snapshots")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between runs")
    parser.add_argument("--top", type=int, default=12)
    return parser.parse_args()


if __name__ == "__main__":
    stoppable.run(main(parse()))
