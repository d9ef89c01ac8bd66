"""The one interface every executor implements, and what flows in and out of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel, SecretStr

from agent_runner.agents.process import ProcessLimits
from dursor_contracts.executors import ExecutorOptions

if TYPE_CHECKING:
    from agent_runner.agents.confinement import RunJail

Stream = Literal["stdout", "stderr", "agent", "system"]
OptionsT = TypeVar("OptionsT", bound=BaseModel)


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
    options: ExecutorOptions
    session_id: str | None
    credential: Credential | None
    limits: ProcessLimits
    # The turn's jail; None runs the agent as this worker's user (sandbox "off").
    jail: RunJail | None = None
    # Called with the turn's usage so far whenever the agent's stream shows it; raises
    # (dursor_contracts.usage.BudgetExceeded) to stop the agent.
    on_usage: Callable[[Mapping[str, Any]], None] | None = None
    # The repository's variables for this process: what setup exported, and the secrets
    # injected where it runs (names checked by dursor_contracts.environment).
    environment: Mapping[str, str] = field(default_factory=dict)


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


class Agent(Protocol):
    """Runs one turn of a coding agent in a prepared workspace (one per executor kind)."""

    kind: str

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Run the agent to completion; cancellation must stop it for good."""
        ...


def options_of(invocation: AgentInvocation, kind: type[OptionsT]) -> OptionsT:
    """The run's options as this agent's kind; another kind means a run reached the wrong agent."""
    if not isinstance(invocation.options, kind):
        found = type(invocation.options).__name__
        raise TypeError(f"{kind.__name__} expected, the run has {found}")
    return invocation.options
