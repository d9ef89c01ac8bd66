"""Runner replicas with different allocators side by side under one steady soak load.

One chaos platform; its runner as built (the baseline) plus one runner per `--variant`,
each started with the variant's environment (a preloaded allocator, glibc's malloc
variables). They share one queue, so they meet the same load at the same time; the
soak's rows for the runners compare their anonymous memory: the slope over the last
80 % of the window and over its second half, and the growth against its noise.

    nice -n 10 uv run python -m bench.runner_allocators --minutes 60
    uv run python -m bench.runner_allocators --minutes 5 --variant m64k:MALLOC_MMAP_THRESHOLD_=65536
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from bench import stoppable
from bench.chaos import table
from bench.chaos_phases import slopes
from tests.support.chaos.cluster import ChaosCluster, chaos_cluster
from tests.support.chaos.soak import steady_soak

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
SHOWN = (
    ("process", "runner"),
    ("anon_mib", "anon MiB"),
    ("kib_per_min", "KiB/min (20-100 %)"),
    ("first_half_kib_per_min", "first half"),
    ("second_half_kib_per_min", "second half"),
    ("growth_kib", "growth KiB"),
    ("noise_kib", "noise KiB"),
    ("grows", "grows"),
    ("grows_in_second_half", "grows in second half"),
)


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """`name:VAR=VALUE,VAR=VALUE` as a name and its environment."""
    name, _, assignments = text.partition(":")
    env = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
    return name, env


def default_variants() -> dict[str, dict[str, str]]:
    """jemalloc preloaded, where Debian's package (Redis depends on it) put it."""
    return {"jemalloc": {"LD_PRELOAD": JEMALLOC}} if Path(JEMALLOC).exists() else {}


async def start_variants(cluster: ChaosCluster, variants: dict[str, dict[str, str]]) -> None:
    """One more runner per variant, its workspaces on the chaos volume, all ready."""
    started = []
    for name, env in variants.items():
        workspaces = cluster.volume / "workspaces" / name
        replica_env = {"DURSOR_WORKSPACES_DIR": str(workspaces), **env}
        started.append(
            cluster.platform.start("agent-runner", f"agent-runner-{name}", env=replica_env)
        )
    await asyncio.gather(*(cluster.platform.wait_ready(r, timeout=180) for r in started))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The platform, the variants, the soak; the runners' rows and the soak's verdict."""
    variants = dict(parse_variant(v) for v in args.variant) if args.variant else default_variants()
    with tempfile.TemporaryDirectory(prefix="dursor-allocators-") as folder:
        async with chaos_cluster(Path(folder), runners=1) as cluster:
            await start_variants(cluster, variants)
            result = await steady_soak(cluster, args.minutes * 60, args.interval, every=60)
    rows = slopes(result.series)
    runners = [r for r in rows if r["process"].startswith("agent-runner")]
    return {
        "runners": [r for r in runners if not r["process"].endswith(".daprd")],
        "verdict": result.verdict.row(),
    }


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between runs")
    parser.add_argument(
        "--variant",
        action="append",
        help="name:VAR=VALUE,... (repeatable; default: jemalloc preloaded)",
    )
    parser.add_argument("--json", help="also write the rows here")
    return parser.parse_args()


def main() -> None:
    """Measure, print the table and the verdict, save the JSON if asked."""
    args = parse()
    report = stoppable.run(measure(args))
    print(table(report["runners"], SHOWN))
    print(f"verdict: {report['verdict']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report))


if __name__ == "__main__":
    main()
