"""Which resource limits a jail gets on this host, and what each level guarantees.

- cgroup v2 or v1: memory for the whole jail (the kernel's OOM killer acts inside the
  jail only), tasks for the whole jail (a fork bomb stops at the limit), a CPU quota
  (throttled to N cores), and kill-all of the group at the end.
- rlimits only (no writable control groups): tasks per jail (RLIMIT_NPROC counts the
  processes of a uid, and every jail has its own uid), data segment per process
  (RLIMIT_DATA: N processes may each use that much); no CPU cap.
Every level also sets no core dumps and a file size cap (RLIMIT_FSIZE: one file, not
the sum); the disk cap is the run's own filesystem (disk.py) where loop devices exist,
and /tmp's size cap is its tmpfs (charged to the jail's memory where cgroups exist).
"""

from __future__ import annotations

from agent_runner.agents.sandbox.schemas import CgroupMode, JailLimits

GUARANTEES: dict[CgroupMode, str] = {
    "v2": "cgroup v2: jail-wide memory, tasks and CPU quota; kill-all with cgroup.kill",
    "v1": "cgroup v1: jail-wide memory, tasks and CPU quota; kill-all task by task",
    "none": (
        "rlimits only: tasks per jail uid, data segment and file size per process, no CPU cap"
    ),
}


def rlimit_options(limits: JailLimits, mode: CgroupMode) -> list[str]:
    """`prlimit` options for the jail's first process (inherited by all it starts)."""
    # No single file may outgrow the run's disk, capped by a disk image or not.
    options = ["--core=0", f"--nproc={limits.pids}", f"--fsize={limits.disk_bytes}"]
    if mode == "none":
        options.append(f"--data={limits.memory_bytes}")
    return options
