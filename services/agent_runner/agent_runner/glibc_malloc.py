"""glibc malloc of the runner: arenas capped, big blocks always mmap'd, free pages trimmed per run.

Every thread that allocates gets a malloc arena of its own until there are 8 per core,
and memory freed in an arena stays with it. The runner starts a thread per run (the
jail's network namespace is built in one) and keeps several in asyncio's default
executor (workspace hand-over, deletions, getaddrinfo): under the soak's steady load the
threads' arenas grew to a dozen that held megabytes with a few kilobytes in use, and
the runner's RSS rose with each new one (`bench.soak_tracemalloc --process agent-runner`:
the traced Python heap stayed flat meanwhile). Two arenas keep the threads' frees
reusable by each other; the runner's threads do little allocating, so the lock they
then share costs nothing measurable.

What a run frees stays resident too wherever a live block above it keeps the heap from
shrinking: free() hands back only the heap's top. `malloc_trim(0)` after each run returns
every free page to the system (0.35 ms on a 47 MB heap with 12 MB free).

Blocks of 128 KiB and more are mmap'd and unmapped when freed, but glibc raises that
threshold to the size of each such block freed (up to 32 MiB), so a run's big buffers
(subprocess output, diffs, event batches) then came from the heap, and the heap's extent
crept with its free holes: 33.1 -> 35.9 MB in an hour of steady runs, while a runner
beside it with the threshold fixed at 128 KiB held 30.6 MB throughout.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

# <malloc.h>: mallopt's parameters
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
RUNNER_ARENA_MAX = 2
# glibc's own starting value, kept from then on.
RUNNER_MMAP_THRESHOLD = 128 * 1024


def cap_malloc_arenas(arenas: int = RUNNER_ARENA_MAX) -> bool:
    """Cap this process's malloc arenas unless the operator chose a cap; True if done."""
    return _set_malloc_option(M_ARENA_MAX, arenas, "arena_max", "MALLOC_ARENA_MAX")


def fix_mmap_threshold(threshold: int = RUNNER_MMAP_THRESHOLD) -> bool:
    """Mmap every block of `threshold` bytes or more, for good, unless the operator chose one."""
    return _set_malloc_option(
        M_MMAP_THRESHOLD, threshold, "mmap_threshold", "MALLOC_MMAP_THRESHOLD_"
    )


def _set_malloc_option(option: int, value: int, tunable: str, variable: str) -> bool:
    """mallopt(option, value) unless the environment chose it; True if done.

    The operator chooses with glibc's tunable (GLIBC_TUNABLES=glibc.malloc.<tunable>=N)
    or its older variable; glibc read either at start-up and keeps it unless we call.
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "").split(":")
    if variable in os.environ or any(t.startswith(f"glibc.malloc.{tunable}=") for t in tunables):
        return False
    mallopt = _glibc_function("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False  # not glibc (musl has neither arenas nor this threshold)
    return bool(mallopt(option, value))


def trim_free_memory() -> bool:
    """Give the pages malloc holds free back to the system; False where there is no glibc."""
    malloc_trim = _glibc_function("malloc_trim", ctypes.c_size_t)
    if malloc_trim is None:
        return False
    malloc_trim(0)  # returns 1 when it released something, 0 when nothing was free
    return True


@functools.cache
def _glibc_function(name: str, *argtypes: type[ctypes._SimpleCData[Any]]) -> Any:
    """A C library function taking `argtypes` and returning int, looked up once; None if absent."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function
