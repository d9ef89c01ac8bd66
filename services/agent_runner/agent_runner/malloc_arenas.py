"""glibc malloc arenas of the runner process: capped before any thread starts.

Every thread that allocates gets a malloc arena of its own until there are 8 per core,
and memory freed in an arena stays with it. The runner starts a thread per run (the
jail's network namespace is built in one) and keeps several in asyncio's default
executor (workspace hand-over, deletions, getaddrinfo): under the soak's steady load the
threads' arenas grew to a dozen that held megabytes with a few kilobytes in use, and
the runner's RSS rose with each new one (`bench.soak_tracemalloc --process agent-runner`:
the traced Python heap stayed flat meanwhile). Two arenas keep the threads' frees
reusable by each other; the runner's threads do little allocating, so the lock they
then share costs nothing measurable.
"""

from __future__ import annotations

import ctypes
import os

# <malloc.h>: M_ARENA_MAX
M_ARENA_MAX = -8
RUNNER_ARENA_MAX = 2


def cap_malloc_arenas(arenas: int = RUNNER_ARENA_MAX) -> bool:
    """Cap this process's malloc arenas unless the operator set MALLOC_ARENA_MAX; True if done."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False  # glibc read the operator's value at start-up
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:
        return False  # not glibc (musl has no arenas to cap)
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
