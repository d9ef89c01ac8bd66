"""Guard between a runner and its agent: the agent's process group dies with the runner.

The runner starts `python -m agent_runner.agents.process_guard <argv…>` as the leader of a new
process group; the guard execs nothing itself but runs the agent in that same group.
The kernel sends the guard SIGTERM when the runner dies (PR_SET_PDEATHSIG), even by
SIGKILL, and the guard then stops the whole group — so a killed worker never leaves an
agent running beside the attempt that replaces it. Standard library only: it starts fast.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

PR_SET_PDEATHSIG = 1
GRACE_ENV = "DURSOR_GUARD_GRACE_SECONDS"
PARENT_ENV = "DURSOR_GUARD_PARENT_PID"


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent dies; stop now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        stop_group(0.0)


def stop_group(grace: float) -> None:
    """SIGTERM every process of our group, SIGKILL what is left after `grace`, then exit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    group = os.getpgid(0)
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _others_alive(group):
        _reap_children()
        time.sleep(0.05)
    os.killpg(group, signal.SIGKILL)


def _others_alive(group: int) -> bool:
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me and _group_of(int(entry)) == group:
            return True
    return False


def _group_of(pid: int) -> int | None:
    """The live process's group; None for gone or zombie processes (they hold nothing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else int(fields[2])


def _reap_children() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def main(argv: list[str]) -> int:
    """Run the agent in our group; stop the group on SIGTERM (runner's cancel or death)."""
    grace = float(os.environ.pop(GRACE_ENV, "10"))
    parent = int(os.environ.pop(PARENT_ENV, str(os.getppid())))

    def on_term(_: int, __: FrameType | None) -> None:
        stop_group(grace)

    signal.signal(signal.SIGTERM, on_term)
    die_with_parent(parent)
    agent = subprocess.Popen(argv)
    return agent.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
