"""The runner caps glibc's malloc arenas: its threads cannot each keep an arena of freed memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from agent_runner.malloc_arenas import RUNNER_ARENA_MAX

# Threads that each allocate while all are alive, then glibc's own count of arenas.
ARENAS_AFTER_THREADS = """
import ctypes, sys, threading
from agent_runner.malloc_arenas import cap_malloc_arenas
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


def _arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", ARENAS_AFTER_THREADS, mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return len(re.findall(r"^Arena \d+:", done.stderr, re.MULTILINE))


def test_eight_allocating_threads_share_the_capped_arenas() -> None:
    assert _arenas("capped") == RUNNER_ARENA_MAX


def test_without_the_cap_each_thread_takes_an_arena_of_its_own() -> None:
    # The baseline the cap is measured against: glibc's default here.
    assert _arenas("default") > RUNNER_ARENA_MAX + 2


def test_the_operators_malloc_arena_max_is_left_to_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_runner.malloc_arenas import cap_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas() is False


def test_the_server_caps_the_arenas_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_runner import server

    calls: list[str] = []

    def cap() -> bool:
        calls.append("cap")
        return True

    monkeypatch.setattr(server, "cap_malloc_arenas", cap)
    monkeypatch.setattr(server, "serve", lambda *args: calls.append("serve"))
    server.main(["--port", "1"])
    assert calls == ["cap", "serve"]
