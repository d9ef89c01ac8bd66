"""The agent sandbox: a jail per agent turn (bubblewrap), its egress and its limits.

`Sandbox.open(policy)` probes the host once per worker and decides whether agents may
run here; `sandbox.jail(request, on_refused)` builds one turn's jail, whose `command()`
prefixes the agent's argv. See jail.py for the layers and README "Sandbox" for what the
jail guarantees and what it needs from the host.
"""

from agent_runner.agents.sandbox.disk import RunDisk, loop_disks_available
from agent_runner.agents.sandbox.jail import Jail, JailReport, Sandbox, uid_processes
from agent_runner.agents.sandbox.policy import SandboxPolicy, SandboxUnavailable, SandboxVerdict
from agent_runner.agents.sandbox.schemas import (
    EgressPolicy,
    HostSupport,
    JailLimits,
    JailRequest,
    RefusalHook,
    Upstream,
)

__all__ = [
    "EgressPolicy",
    "HostSupport",
    "Jail",
    "JailLimits",
    "JailReport",
    "JailRequest",
    "RefusalHook",
    "RunDisk",
    "Sandbox",
    "SandboxPolicy",
    "SandboxUnavailable",
    "SandboxVerdict",
    "Upstream",
    "loop_disks_available",
    "uid_processes",
]
