"""Event-loop lag while logins verify argon2id passwords: on the loop vs in auth's thread pool.

A login verifies one argon2id hash (tens of ms of CPU). Verified on the event loop
(what auth did before), every other request of the replica waits behind it; in the
bounded pool (`auth_service.passwords.PasswordHashing`), the loop keeps turning. This
runs the same burst of concurrent verifications both ways while a ticker on the loop
asks to wake every millisecond, and prints how late it woke (the lag another request
would see) and how many logins per second each way managed.

    uv run python -m bench.password_hashing [--logins 40] [--concurrency 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from auth_service.passwords import PasswordHashing, hash_password, verify_password

TICK_SECONDS = 0.001


@dataclass(frozen=True)
class Result:
    """Lag of the loop and login throughput of one way of verifying."""

    name: str
    lags_ms: list[float]
    logins_per_second: float

    def row(self) -> str:
        """One line of the table."""
        lags = sorted(self.lags_ms)
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return (
            f"| {self.name} | {statistics.median(lags):.2f} | {p99:.2f} | {lags[-1]:.2f} "
            f"| {self.logins_per_second:.1f} |"
        )


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(TICK_SECONDS)
        lags.append((time.perf_counter() - started - TICK_SECONDS) * 1000)


async def _inline(password_hash: str, password: str) -> bool:
    return verify_password(password_hash, password)


async def measure(
    name: str, verify: Callable[[str, str], Awaitable[bool]], logins: int, concurrency: int
) -> Result:
    """Run `logins` verifications, `concurrency` at a time, with the ticker running."""
    password = "correct horse battery staple"  # noqa: S105 - a benchmark input
    stored = hash_password(password)
    lags: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    limit = asyncio.Semaphore(concurrency)

    async def login() -> None:
        async with limit:
            assert await verify(stored, password)

    started = time.perf_counter()
    await asyncio.gather(*(login() for _ in range(logins)))
    elapsed = time.perf_counter() - started
    stop.set()
    await ticker
    return Result(name, lags, logins / elapsed)


async def main(logins: int, concurrency: int, threads: int) -> None:
    """Measure both ways and print the table and the ratios."""
    pool = PasswordHashing(threads)
    try:
        await measure("warm-up", pool.verify, 4, 2)
        baseline = await measure("on the event loop (before)", _inline, logins, concurrency)
        ours = await measure(f"thread pool of {threads} (ours)", pool.verify, logins, concurrency)
    finally:
        pool.close()
    print("| verification | loop lag p50 ms | p99 ms | max ms | logins/s |")
    print("|---|---|---|---|---|")
    print(baseline.row())
    print(ours.row())
    print(
        f"ratios ours/baseline: max lag {max(ours.lags_ms) / max(baseline.lags_ms):.3f}, "
        f"p50 lag {statistics.median(ours.lags_ms) / statistics.median(baseline.lags_ms):.3f}, "
        f"logins/s {ours.logins_per_second / baseline.logins_per_second:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.logins, args.concurrency, args.threads))
