"""The runner caps glibc's malloc arenas, mmaps big blocks for good and trims after each run."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast
from uuid import uuid4

import pytest

from agent_runner.glibc_malloc import RUNNER_ARENA_MAX, cap_malloc_arenas, fix_mmap_threshold
from agent_runner.runs import dispatcher
from agent_runner.runs.attempt import AttemptContext, RunAttempt

# Threads that each allocate while all are alive, then glibc's own count of arenas.
ARENAS_AFTER_THREADS = """
import ctypes, sys, threading
from agent_runner.glibc_malloc import cap_malloc_arenas
if sys.argv[1] == "capped":
    cap_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(8)
def allocate():
    blocks = [libc.malloc(1000) for _ in range(100)]
    barrier.wait()
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()
"""

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="malloc arenas are glibc's",
)


def _run_with_glibc_defaults(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A Python script in a process of its own, no MALLOC_* or GLIBC_TUNABLES inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )


def _arenas(mode: str) -> int:
    done = _run_with_glibc_defaults(ARENAS_AFTER_THREADS, mode)
    return len(re.findall(r"^Arena \d+:", done.stderr, re.MULTILINE))


def test_eight_allocating_threads_share_the_capped_arenas() -> None:
    assert _arenas("capped") == RUNNER_ARENA_MAX


def test_without_the_cap_each_thread_takes_an_arena_of_its_own() -> None:
    # The baseline the cap is measured against: glibc's default here.
    assert _arenas("default") > RUNNER_ARENA_MAX + 2


@pytest.mark.parametrize(
    ("tune", "variable", "value"),
    [
        (cap_malloc_arenas, "MALLOC_ARENA_MAX", "4"),
        (
            cap_malloc_arenas,
            "GLIBC_TUNABLES",
            "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=4",
        ),
        (fix_mmap_threshold, "MALLOC_MMAP_THRESHOLD_", "65536"),
        (fix_mmap_threshold, "GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536"),
    ],
)
def test_what_the_operator_chose_is_left_to_glibc(
    monkeypatch: pytest.MonkeyPatch, tune: Callable[[], bool], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert tune() is False


def test_the_server_tunes_malloc_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_runner import server

    calls: list[str] = []

    def noting(name: str) -> Callable[[], bool]:
        def call() -> bool:
            calls.append(name)
            return True

        return call

    monkeypatch.setattr(server, "cap_malloc_arenas", noting("cap"))
    monkeypatch.setattr(server, "fix_mmap_threshold", noting("threshold"))
    monkeypatch.setattr(server, "serve", lambda *args: calls.append("serve"))
    server.main(["--port", "1"])
    assert calls == ["cap", "threshold", "serve"]


# A 1 MiB block mmap'd and freed, then a 512 KiB one: glibc's own rule raises the mmap
# threshold to the freed block's size, so the second comes from the heap; then how many
# mmap'd blocks malloc holds (mallinfo2's hblks).
BIG_BLOCK_AFTER_A_BIGGER_ONE = """
import ctypes, sys
from agent_runner.glibc_malloc import fix_mmap_threshold
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(1 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(512 << 10)
print(libc.mallinfo2().hblks - before)
"""


def _mmapped_blocks_gained(mode: str) -> int:
    return int(_run_with_glibc_defaults(BIG_BLOCK_AFTER_A_BIGGER_ONE, mode).stdout)


def test_with_the_threshold_fixed_a_big_block_is_mmapped_whatever_was_freed_before() -> None:
    assert _mmapped_blocks_gained("fixed") == 1


def test_by_default_glibc_serves_it_from_the_heap_once_a_bigger_block_was_freed() -> None:
    # The baseline the fixed threshold is measured against: glibc's dynamic threshold.
    assert _mmapped_blocks_gained("default") == 0


# 20 MB of small blocks freed below one live block: the heap cannot shrink from its top,
# so free() alone keeps the pages; then the anonymous memory before and after a trim.
FREED_BELOW_A_LIVE_BLOCK = """
import ctypes, re
from agent_runner.glibc_malloc import trim_free_memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def anon():
    return int(re.search(r"RssAnon:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
blocks = [libc.malloc(1000) for _ in range(20000)]
for block in blocks:
    ctypes.memset(block, 1, 1000)
pinned = libc.malloc(1000)
for block in blocks:
    libc.free(block)
before = anon()
assert trim_free_memory()
print(before, anon())
"""


def test_a_trim_returns_what_was_freed_below_a_live_block() -> None:
    done = _run_with_glibc_defaults(FREED_BELOW_A_LIVE_BLOCK)
    before_kib, after_kib = map(int, done.stdout.split())
    assert before_kib - after_kib > 15_000  # of the ~20 MB freed


class OneAttempt:
    """Stands in for a run's attempt: notes when it ran; may end with an error."""

    def __init__(self, calls: list[str], error: Exception | None) -> None:
        self.run = SimpleNamespace(id=uuid4())
        self._calls, self._error = calls, error

    async def execute(self) -> None:
        self._calls.append("attempt")
        if self._error is not None:
            raise self._error


async def no_credential(run: object) -> None:
    return None


@pytest.mark.parametrize("error", [None, RuntimeError("the attempt broke")])
async def test_the_dispatcher_trims_once_the_attempt_has_ended(
    monkeypatch: pytest.MonkeyPatch, error: Exception | None
) -> None:
    calls: list[str] = []

    def trim() -> bool:
        calls.append("trim")
        return True

    monkeypatch.setattr(dispatcher, "trim_free_memory", trim)
    ctx = cast(AttemptContext, SimpleNamespace(leases=SimpleNamespace(lease_seconds=3600)))
    worker = dispatcher.Dispatcher(ctx, 1, 3600, resolve_credential=no_credential)
    attempt = cast(RunAttempt, OneAttempt(calls, error))
    with contextlib.suppress(RuntimeError):
        await worker._supervised(attempt)
    assert calls == ["attempt", "trim"]
