"""A benchmark stopped by a signal still stops what it started (bench.stoppable)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# A "benchmark" that starts a long-lived child (its "platform") and stops it on the way out.
SCRIPT = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    from bench import stoppable

    async def main() -> None:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        print(child.pid, flush=True)
        try:
            await asyncio.sleep(300)
        finally:
            child.kill()
            child.wait()

    stoppable.run(main())
    """
)


def _started(ignore_sigint: bool) -> tuple[subprocess.Popen[str], int]:
    """The script running, SIGINT ignored as in a background job if asked; its child's pid."""
    # `trap '' INT` is what a shell does for a job started with `&`: ignored, and inherited.
    ignoring = "trap '' INT; " if ignore_sigint else ""
    bench = subprocess.Popen(
        ["bash", "-c", f'{ignoring}exec "$0" -c "$1"', sys.executable, SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert bench.stdout is not None
    return bench, int(bench.stdout.readline())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize(
    ("stop", "ignore_sigint"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGINT-in-a-background-job"],
)
def test_a_signalled_benchmark_stops_what_it_started(
    stop: signal.Signals, ignore_sigint: bool
) -> None:
    bench, child = _started(ignore_sigint)
    assert _alive(child)

    bench.send_signal(stop)
    _, stderr = bench.communicate(timeout=30)

    assert bench.returncode == 128 + signal.SIGTERM
    assert "everything it started is stopped" in stderr
    assert not _alive(child)
