"""Starting child processes from a runner's event loop: uvloop against the standard loop.

A runner starts a dozen processes per run (git, the process guard, the jail) from its
event loop. This starts `git --version` from four tasks at once (four runs in flight)
for a fixed time in a process holding as much memory as a runner (`--rss-mib`), while a
ticker sleeping 10 ms measures how late the loop wakes it (a heartbeat or `/readyz`
waits as long). Rounds alternate between uvloop and the standard loop, so both see the
same machine load; figures are per loop, with the ratio standard / uvloop:

    uv run python -m bench.subprocess_spawn --seconds 10 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvloop

TICK_SECONDS = 0.01
SPAWNERS = 4
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


@dataclass
class Figures:
    """What one loop did over all its rounds."""

    spawns: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    lags: list[float] = field(default_factory=list)

    def row(self, name: str) -> str:
        """One line of the table."""
        lags = sorted(self.lags)
        p99 = lags[int(len(lags) * 0.99)]
        return (
            f"| {name} | {self.spawns / self.seconds:.0f} | "
            f"{1000 * self.cpu_seconds / self.spawns:.2f} | "
            f"{1000 * statistics.median(lags):.1f} | {1000 * p99:.1f} | {1000 * lags[-1]:.0f} |"
        )


async def _spawn_until(deadline: float) -> int:
    count = 0
    while time.monotonic() < deadline:
        process = await asyncio.create_subprocess_exec(
            "git", "--version", stdout=asyncio.subprocess.PIPE
        )
        await process.communicate()
        count += 1
    return count


async def one_round(seconds: float, figures: Figures) -> None:
    """Spawn from four tasks for `seconds` while the ticker records the loop's lateness."""
    started, cpu = time.monotonic(), time.process_time()
    deadline = started + seconds
    spawners = [asyncio.create_task(_spawn_until(deadline)) for _ in range(SPAWNERS)]
    while time.monotonic() < deadline:
        asked = time.monotonic()
        await asyncio.sleep(TICK_SECONDS)
        figures.lags.append(time.monotonic() - asked - TICK_SECONDS)
    figures.spawns += sum(await asyncio.gather(*spawners))
    figures.seconds += time.monotonic() - started
    figures.cpu_seconds += time.process_time() - cpu


def main(args: argparse.Namespace) -> None:
    # Resident memory like a runner's: fork() copies the page tables of all of it.
    ballast = bytearray(args.rss_mib * 2**20)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    figures = {name: Figures() for name in LOOPS}
    for _ in range(args.rounds):
        for name, factory in LOOPS.items():
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(one_round(args.seconds, figures[name]))
    print("| loop | spawns/s | parent CPU ms per spawn | loop lag p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, result in figures.items():
        print(result.row(name))
    ratio = (figures["asyncio"].spawns / figures["asyncio"].seconds) / (
        figures["uvloop"].spawns / figures["uvloop"].seconds
    )
    print(f"spawns/s, standard loop / uvloop: {ratio:.1f}x")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per loop")
    parser.add_argument("--rss-mib", type=int, default=115, help="memory held, like a runner")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
