"""Benchmarks that start a platform tear it down on SIGTERM too, not only on Ctrl-C.

A benchmark left running in the background (nohup, a CI job, `&` in a script: SIGINT
ignored there) and stopped with `kill` used to die at once, leaving its PostgreSQL,
Redis, apps, sidecars and tmpfs volume behind. Here either signal cancels the main
task, so every `async with` that started something stops it on the way out.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
STOPPED = 128 + signal.SIGTERM  # the exit status of a process ended by SIGTERM


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, cancelled (its cleanup run) on SIGTERM or SIGINT."""

    async def stoppable() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop, task.cancel)
        return await main

    try:
        return asyncio.run(stoppable())
    except asyncio.CancelledError:
        print("stopped by a signal: everything it started is stopped", file=sys.stderr)
        raise SystemExit(STOPPED) from None
