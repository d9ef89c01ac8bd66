"""The one interface every executor implements, and what flows in and out of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from uuid import UUID

from pydantic import SecretStr

from agent_runner.process import ProcessLimits

Stream = Literal["stdout", "stderr", "agent", "system"]


@dataclass(frozen=True)
class Credential:
    """The single provider credential a run may use (never the platform's own)."""

    provider: Literal["openai", "anthropic", "google"]
    api_key: SecretStr
    base_url: str | None = None
    # The model profile's model: used when the run names none.
    model: str | None = None


@dataclass(frozen=True)
class AgentInvocation:
    """Everything an executor needs for one turn of one run."""

    run_id: UUID
    turn: int
    instruction: str
    workspace: Path
    home: Path
    model: str | None
    options: Mapping[str, Any]
    session_id: str | None
    credential: Credential | None
    limits: ProcessLimits


@dataclass
class AgentOutcome:
    """How the agent ended: its exit, the session to resume and what it reported."""

    exit_code: int | None
    session_id: str | None = None
    summary: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the agent exited cleanly and reported no error."""
        return self.exit_code == 0 and self.error is None


class AgentSink(Protocol):
    """Where an executor sends what the agent prints and reports while it runs."""

    async def log(self, stream: Stream, line: str) -> None:
        """One line of output."""
        ...

    async def progress(self, message: str) -> None:
        """A human-readable step (a tool call, a file edit)."""
        ...


class Executor(Protocol):
    """Runs one turn of an agent in a prepared workspace."""

    kind: str

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Run the agent to completion; cancellation must stop it for good."""
        ...
