"""The runner's HTTP server: uvicorn on the standard asyncio loop, owned here, not by launchers.

`python -m agent_runner --host 0.0.0.0 --port 8082`. A runner starts a dozen processes
per run (git, the process guard, the jail), all from its event loop. uvloop (uvicorn's
choice when installed) spawns with fork() and blocks the loop until the child has
called exec; on a busy host the child waits for a CPU first, so every spawn stalled
the loop for tens to hundreds of milliseconds, and with four runs in flight heartbeats
and `/readyz` waited longer than a probe's timeout (`bench.subprocess_spawn` measures
it). The standard loop spawns through `subprocess.Popen`, which uses vfork: the child
runs at once on the parent's CPU time and the loop is blocked for well under a
millisecond.
"""

from __future__ import annotations

import argparse

import uvicorn

from agent_runner.glibc_malloc import cap_malloc_arenas, fix_mmap_threshold
from dursor_kit.web.keep_alive import APP_KEEP_ALIVE_SECONDS

# The loop every runner process must run on (see above); tests assert it.
EVENT_LOOP = "asyncio"


def serve(host: str, port: int, log_level: str) -> None:
    """Run the runner until SIGTERM."""
    uvicorn.run(
        "agent_runner.app:create_app",
        factory=True,
        host=host,
        port=port,
        loop=EVENT_LOOP,
        access_log=False,
        timeout_keep_alive=APP_KEEP_ALIVE_SECONDS,
        log_level=log_level,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the listen address and start serving."""
    parser = argparse.ArgumentParser(prog="python -m agent_runner")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    cap_malloc_arenas()  # before uvicorn or asyncio start a thread
    fix_mmap_threshold()
    serve(args.host, args.port, args.log_level)
