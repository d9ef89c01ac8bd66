"""Where this worker's agents run: each in a jail, unjailed with a warning, or not at all.

The worker decides once at start (`Confinement.open`); each turn then gets a `RunJail`
that `run_process` enters around the agent's process. Refused connections become `log`
events of the run, and the worktree and home are handed back to the runner afterwards
(they belong to the jail's uid while the agent runs; git would call them dubious).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import UUID

from agent_runner.agents.sandbox import (
    EgressPolicy,
    Jail,
    JailRequest,
    Sandbox,
    SandboxPolicy,
    SandboxUnavailable,
    Upstream,
)
from agent_runner.agents.sandbox.identity import hand_over
from agent_runner.settings import RunnerSettings

SystemLog = Callable[[str], Awaitable[None]]


class AgentsRefused(Exception):
    """This worker may not run agents: the host cannot jail them and unjailed is not allowed."""


def sandbox_policy(settings: RunnerSettings) -> SandboxPolicy:
    """The jail policy from the worker's settings."""
    return SandboxPolicy(
        state_dir=Path(settings.sandbox_state_dir).absolute(),
        allow_unjailed=settings.sandbox_allow_unjailed,
        bwrap=settings.sandbox_bwrap,
        read_only=tuple(Path(p) for p in settings.sandbox_read_only),
        allowed_hosts=tuple(settings.sandbox_allowed_hosts),
        # The worker's own sidecar always: its API is what an escaping agent would want.
        watched_ports=(settings.dapr_http_port, *settings.sandbox_watched_ports),
        allow_loopback_upstreams=settings.sandbox_allow_loopback_upstreams,
    )


@dataclass(frozen=True)
class RunJail:
    """One turn's jail, entered by `run_process` around the agent's process."""

    sandbox: Sandbox
    request: JailRequest
    system_log: SystemLog

    def reaching(self, base_url: str | None) -> RunJail:
        """This jail with the model's base URL as its one direct destination."""
        if not base_url:
            return self
        egress = replace(self.request.egress, upstreams=(Upstream.from_url(base_url),))
        return replace(self, request=replace(self.request, egress=egress))

    @contextlib.asynccontextmanager
    async def entered(self) -> AsyncIterator[Jail]:
        """The live jail; on leaving, its limit reasons are logged and the folders handed back."""
        try:
            async with self.sandbox.jail(self.request, self._refused) as jail:
                try:
                    yield jail
                finally:
                    reason = jail.reason()
                    if reason:
                        await self.system_log(f"jail: {reason}")
        finally:
            for folder in (self.request.workspace, self.request.home):
                await asyncio.to_thread(hand_over, folder, os.getuid(), os.getgid())

    async def _refused(self, host: str, port: int, reason: str) -> None:
        await self.system_log(f"jail refused a connection to {host}:{port}: {reason}")


@dataclass(frozen=True)
class Confinement:
    """This worker's decision: a sandbox to jail agents in, a warning, or a refusal."""

    sandbox: Sandbox | None = None
    warning: str | None = None
    refusal: str | None = None

    @classmethod
    async def open(cls, settings: RunnerSettings) -> Confinement:
        """Probe the host when jails are on; never raises for a host that cannot jail."""
        if settings.sandbox == "off":
            return cls()
        try:
            sandbox = await Sandbox.open(sandbox_policy(settings))
        except SandboxUnavailable as exc:
            return cls(refusal=str(exc))
        if not sandbox.verdict.jailed:
            return cls(warning=sandbox.verdict.warning)
        return cls(sandbox=sandbox)

    async def for_run(
        self, run_id: UUID, workspace: Path, home: Path, system_log: SystemLog
    ) -> RunJail | None:
        """The turn's jail (None: unjailed); raises AgentsRefused when agents may not run."""
        if self.refusal:
            raise AgentsRefused(self.refusal)
        if self.warning:
            await system_log(self.warning)
        if self.sandbox is None:
            return None
        request = JailRequest(str(run_id), workspace, home, EgressPolicy())
        return RunJail(self.sandbox, request, system_log)
