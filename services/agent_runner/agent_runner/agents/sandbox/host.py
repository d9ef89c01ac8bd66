"""What this host offers a jail: probed once per worker, reported at start and in /readyz."""

from __future__ import annotations

import asyncio
import os
import shutil

from agent_runner.agents.sandbox.cgroups import CgroupLayout
from agent_runner.agents.sandbox.disk import loop_disks_available
from agent_runner.agents.sandbox.netns import tripwire_available
from agent_runner.agents.sandbox.policy import SandboxPolicy
from agent_runner.agents.sandbox.schemas import CgroupMode, HostSupport

UTIL_LINUX = ("nsenter", "setpriv", "prlimit")
NOBODY = "65534"
# The namespaces every jail needs, tried once for real: a bwrap that is installed but
# cannot create them (an unprivileged container, a seccomp profile) must not count.
NAMESPACE_TRIAL = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts")


async def probe(policy: SandboxPolicy) -> HostSupport:
    """Check bubblewrap, root, util-linux, namespaces, cgroups, tripwire and loop disks."""
    bwrap = shutil.which(policy.bwrap)
    is_root = os.geteuid() == 0
    problems = [f"{tool} (util-linux) is missing" for tool in UTIL_LINUX if not shutil.which(tool)]
    if bwrap is None:
        problems.append(f"bubblewrap ({policy.bwrap}) is not installed")
    if not is_root:
        problems.append("the runner is not root (jails need it: own uids, network, cgroups)")
    if bwrap is not None and is_root and not problems:
        failure = await _namespace_failure(bwrap)
        if failure is not None:
            problems.append(f"bubblewrap cannot create namespaces here: {failure}")
    usable = bwrap is not None and not problems
    return HostSupport(
        bwrap=bwrap,
        bwrap_version=await _version(bwrap) if bwrap else None,
        is_root=is_root,
        unprivileged_userns=await _unprivileged_userns(bwrap) if usable and bwrap else False,
        cgroup_mode=_cgroup_mode(policy) if is_root else "none",
        tripwire=tripwire_available(),
        loop_disk=loop_disks_available(),
        problems=tuple(problems),
    )


def _cgroup_mode(policy: SandboxPolicy) -> CgroupMode:
    if not policy.use_cgroups:
        return "none"
    return CgroupLayout.detect(parent=policy.cgroup_parent).mode


async def _version(bwrap: str) -> str | None:
    out, _ = await _output(bwrap, "--version")
    return out.strip().removeprefix("bubblewrap ") if out is not None else None


async def _namespace_failure(bwrap: str) -> str | None:
    """None when bwrap can start a process in fresh namespaces, else its complaint."""
    out, err = await _output(bwrap, *NAMESPACE_TRIAL, "--ro-bind", "/", "/", "true")
    return None if out is not None else (err.strip()[:300] or "bwrap failed")


async def _unprivileged_userns(bwrap: str) -> bool:
    """True when an unprivileged uid may create a user namespace (the jail's inner stage)."""
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", bwrap]
    argv += ["--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "true"]
    out, _ = await _output(*argv)
    return out is not None


async def _output(*argv: str) -> tuple[str | None, str]:
    """(stdout or None when the command fails, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    text = out.decode(errors="replace") if process.returncode == 0 else None
    return text, err.decode(errors="replace")
