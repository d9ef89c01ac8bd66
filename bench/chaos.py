"""Faults survived, in figures: the chaos and soak command.

Drives the real platform (two events-gateway replicas, run-api, auth, two agent-runner
replicas, each with its daprd, on a PostgreSQL cluster and a redis-server of the
bench's own) with a steady stream of `command` runs, each followed by an SSE watcher,
and injects faults one at a time, then overlapping. For each it checks what the issue
asks (no accepted run lost or doubled, none stuck after recovery, every watcher's stream
equal to the event log, no 5xx but 503 + Retry-After during the outage, every replica
ready again within the bound) and prints a table. Then a burst of runs on 2 and on 4
runner replicas, and a soak sampling every process's RSS and open file descriptors.

    nice -n 10 uv run python -m bench.chaos            # all faults, 1,000-run burst, 30 min soak
    nice -n 10 uv run python -m bench.chaos --quick         # shorter faults, 200 runs, 2 min soak
    uv run python -m bench.chaos --only pg-restart,redis-restart --burst 0 --soak-minutes 0
    uv run python -m bench.chaos --only none --burst 1000 --burst-replicas 4 --soak-minutes 0
    uv run python -m bench.chaos --only none --burst 0 --soak-minutes 30 --stream-cap 2000
    uv run python -m bench.chaos --tables soak.json   # a saved report's tables, judged again
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import stoppable
from bench.chaos_phases import SOAK_COLUMNS, burst, slopes, soak
from tests.support.chaos.backlog import BROADCAST_FILE, set_stream_cap
from tests.support.chaos.cluster import ChaosCluster, chaos_cluster
from tests.support.chaos.faults import (
    DRAIN_TIMEOUT_SECONDS,
    IDLE_WINDOW_SECONDS,
    RECOVERY_BOUND_SECONDS,
    Fault,
    Pace,
    daprd_kill,
    disk_full,
    overlapping,
    pg_restart,
    redis_restart,
    scenario,
)
from tests.support.chaos.ledger import Verdict
from tests.support.chaos.soak import Series
from tests.support.platform import Platform, Replica

COLUMNS = (
    ("fault", "fault"),
    ("accepted", "runs"),
    ("refused", "refused"),
    ("lost", "lost"),
    ("doubled", "doubled"),
    ("stuck", "stuck"),
    ("retried", "retried"),
    ("failed", "failed"),
    ("mismatched", "stream mismatches"),
    ("reconnects", "reconnects"),
    ("replayed", "events replayed"),
    ("server_errors", "5xx (all 503+RA)"),
    ("bad_server_errors", "other 5xx"),
    ("connection_errors", "conn. errors"),
    ("recovery_seconds", "ready again s"),
    ("drain_seconds", "all ended s"),
    ("holds", "holds"),
)


def replica_pick(app_id: str, index: int) -> Callable[[ChaosCluster], Replica]:
    """The index-th replica of an app, as it is when the fault starts."""
    return lambda c: [r for r in c.apps if r.app_id == app_id][index]


def faults(quick: bool) -> dict[str, Fault]:
    """The faults in the order they run: one at a time, then overlapping."""
    kills = {
        f"kill -9 daprd {app}-{i}": daprd_kill(replica_pick(app, i))
        for app, count in (("events-gateway", 2), ("run-api", 1), ("auth", 1), ("agent-runner", 2))
        for i in range(count)
    }
    return {
        "pg restart (stop, 10 s, start)": pg_restart(5 if quick else 10),
        "pg outage 30 s": pg_restart(10 if quick else 30),
        **kills,
        "redis restart": redis_restart(2),
        "workspaces/artifacts volume full": disk_full(5 if quick else 15),
        "overlapping: pg + redis + gateway daprd": overlapping(),
    }


def table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...] = COLUMNS) -> str:
    """Rows as a Markdown table of the given (key, title) columns; the verdicts' by default."""
    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row[key]
            cells.append(f"{value:.1f}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run_faults(cluster: ChaosCluster, args: argparse.Namespace) -> list[Verdict]:
    """Every selected fault in turn; prints each verdict as it comes."""
    verdicts = []
    selected = faults(args.quick)
    for name, fault in selected.items():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        if "full" in name and not cluster.volume_mounted:
            print(f"skipped {name}: the volume could not be mounted (needs root)")
            continue
        load = os.getloadavg()[0]
        verdict, evidence = await scenario(cluster, name, fault, Pace(interval=args.interval))
        verdict.notes.append(f"load {load:.1f} → {os.getloadavg()[0]:.1f}")
        verdicts.append(verdict)
        print(table([verdict.row()]).splitlines()[-1], flush=True)
        for line in [*evidence[:10], *verdict.notes, *verdict.failure_reasons[:5]]:
            print(f"    {line}", flush=True)
    return verdicts


def cap_streams(cap: int | None, platform: Platform) -> None:
    """Lower every pub/sub component's stream cap in the platform's copy of components/."""
    if cap is not None:
        for file in (BROADCAST_FILE, "pubsub.yaml", "integrations.yaml"):
            set_stream_cap(platform.components, cap, file)


async def main(args: argparse.Namespace) -> None:
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="dursor-chaos-"))
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    async with chaos_cluster(workdir, prepare=partial(cap_streams, args.stream_cap)) as cluster:
        print(f"platform up; load average {os.getloadavg()[0]:.1f}", flush=True)
        verdicts = await run_faults(cluster, args)
        report["faults"] = [v.row() for v in verdicts]
        if args.burst:
            counts = tuple(int(n) for n in args.burst_replicas.split(","))
            report["burst"] = await burst(cluster, args.burst, counts)
        if args.soak_minutes:
            report["soak"] = await soak(cluster, args.soak_minutes * 60, args.interval * 2)
    print()
    print(f"bounds: every replica ready ≤ {RECOVERY_BOUND_SECONDS:.0f} s after the fault ends;")
    print("at recovery + lease + reaper no run idle (expired lease, or queued with a free slot)")
    print(f"for {IDLE_WINDOW_SECONDS:.0f} s; every run ended ≤ {DRAIN_TIMEOUT_SECONDS:.0f} s after")
    print_tables(report)
    if args.json:
        await asyncio.to_thread(
            Path(args.json).write_text, json.dumps(report, indent=2, default=str)
        )


def print_tables(report: dict[str, Any]) -> None:
    """The faults' verdicts and, after a soak, every process's slopes."""
    print(table(report["faults"]))
    if "soak" in report:
        print()
        print(table(report["soak"]["processes"], SOAK_COLUMNS))


def rejudge(path: Path) -> dict[str, Any]:
    """A report `--json` wrote, its soak judged again from its samples by today's rules."""
    report: dict[str, Any] = json.loads(path.read_text())
    if "soak" in report:
        samples = report["soak"]["samples"]
        series = {name: Series(name, [tuple(s) for s in rows]) for name, rows in samples.items()}
        report["soak"]["processes"] = slopes(series)
    return report


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter faults, burst and soak")
    parser.add_argument("--only", help="comma-separated parts of fault names to run")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between runs")
    parser.add_argument("--burst", type=int, help="runs per burst (0: none)")
    parser.add_argument(
        "--burst-replicas", default="2,4", help="runner replicas of each burst, in order"
    )
    parser.add_argument("--soak-minutes", type=float, help="soak length (0: none)")
    parser.add_argument(
        "--stream-cap",
        type=int,
        help="maxLenApprox of every pub/sub stream (the soak then sees Redis at its caps)",
    )
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--keep", help="work in this folder and keep it (logs)")
    parser.add_argument(
        "--tables", metavar="JSON", help="only print the tables of a report --json wrote"
    )
    args = parser.parse_args()
    if args.burst is None:
        args.burst = 200 if args.quick else 1000
    if args.soak_minutes is None:
        args.soak_minutes = 2 if args.quick else 30
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.tables:
        print_tables(rejudge(Path(arguments.tables)))
    else:
        stoppable.run(main(arguments))
