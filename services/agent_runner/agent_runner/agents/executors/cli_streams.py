"""Running an agent CLI that prints JSON lines, and turning its events into sink calls.

Each CLI executor supplies a parser for its own event format; this module runs the
process (own process group, scrubbed environment, watchdogs: `run_process`), feeds
every JSON line of stdout to that parser and logs everything else as it came.
The instruction goes in on stdin, so it can never be read as an option of the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from agent_runner.agents.executors.base import AgentInvocation, AgentOutcome, AgentSink
from agent_runner.agents.process import run_process

TOOL_ARG_KEYS = ("file_path", "path", "absolute_path", "command", "cmd", "pattern", "url", "query")
DESCRIPTION_CHARS = 200


class CredentialMissing(Exception):
    """The run has no usable key for the provider its agent talks to."""


@dataclass(frozen=True)
class ProviderAccess:
    """The worker-level key and base URL used when a run brings no model profile."""

    api_key: SecretStr | None = None
    base_url: str | None = None


@dataclass
class StreamReport:
    """What a parser learned from the CLI's events."""

    session_id: str | None = None
    summary: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class EventParser(Protocol):
    """Turns one CLI's JSON events into log lines, progress steps and a report."""

    report: StreamReport

    async def on_event(self, event: dict[str, Any], sink: AgentSink) -> None:
        """Handle one event."""
        ...

    async def finish(self, sink: AgentSink) -> None:
        """Flush whatever is buffered once the process has exited."""
        ...


def resolve_access(
    invocation: AgentInvocation, provider: str, fallback: ProviderAccess
) -> tuple[str, str | None]:
    """The run's own key (model profile) for `provider`, else the worker's; and its base URL."""
    credential = invocation.credential
    if credential is not None:
        if credential.provider != provider:
            raise CredentialMissing(
                f"this executor needs a {provider} key; the run's profile is {credential.provider}"
            )
        return credential.api_key.get_secret_value(), credential.base_url or fallback.base_url
    if fallback.api_key is None:
        raise CredentialMissing(f"no {provider} API key: give the run a model profile")
    return fallback.api_key.get_secret_value(), fallback.base_url


async def run_json_cli(
    argv: Sequence[str],
    invocation: AgentInvocation,
    env: Mapping[str, str],
    parser: EventParser,
    sink: AgentSink,
    base_url: str | None = None,
) -> AgentOutcome:
    """Run the CLI to its end, parsing its JSON events; the outcome says how it went."""

    async def on_line(stream: str, line: str) -> None:
        event = _json_object(line) if stream == "stdout" else None
        if event is None:
            await sink.log("stderr" if stream == "stderr" else "stdout", line)
        else:
            await parser.on_event(event, sink)

    exit_code = await run_process(
        argv,
        cwd=invocation.workspace,
        env=env,
        limits=invocation.limits,
        on_line=on_line,
        stdin=invocation.instruction.encode(),
        jail=invocation.jail.reaching(base_url) if invocation.jail else None,
    )
    await parser.finish(sink)
    return outcome_of(Path(argv[0]).name, exit_code, parser.report)


def outcome_of(program: str, exit_code: int, report: StreamReport) -> AgentOutcome:
    """A clean exit with no reported error succeeds; anything else fails with a reason."""
    error = report.error
    if error is None and exit_code != 0:
        error = f"{program} exited with status {exit_code}"
    return AgentOutcome(
        exit_code=exit_code,
        session_id=report.session_id,
        summary=report.summary,
        usage=report.usage,
        error=error,
    )


def _json_object(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def describe_tool(name: str, args: Any) -> str:
    """A one-line step for a tool call: its name and the argument that says the most."""
    if isinstance(args, Mapping):
        for key in TOOL_ARG_KEYS:
            if isinstance(args.get(key), str | list):
                value = args[key]
                text = " ".join(map(str, value)) if isinstance(value, list) else value
                return f"{name}: {_one_line(text)}"
    return name


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DESCRIPTION_CHARS else flat[: DESCRIPTION_CHARS - 1] + "…"


class TextLines:
    """Buffers streamed text and logs it line by line as the agent's own words."""

    def __init__(self) -> None:
        self._pending = ""
        self.text = ""

    async def add(self, sink: AgentSink, text: str) -> None:
        """Log every completed line of `text`; keep the unfinished rest."""
        self.text += text
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            await sink.log("agent", line)

    async def flush(self, sink: AgentSink) -> None:
        """Log the unfinished last line, if any."""
        if self._pending:
            await sink.log("agent", self._pending)
        self._pending = ""


async def log_text(sink: AgentSink, text: str) -> None:
    """Log a whole message as the agent's lines."""
    for line in text.splitlines():
        await sink.log("agent", line)


async def session_to_resume(
    invocation: AgentInvocation, sink: AgentSink, session_file: Callable[[str], str], noun: str
) -> str | None:
    """The run's session id if its file (glob `session_file(id)`) is in the agent's HOME.

    A session whose file is missing cannot be resumed: the turn starts a new one and
    the log says so.
    """
    session = invocation.session_id
    if session is None:
        return None
    if any(invocation.home.glob(session_file(session))):
        return session
    await sink.log("system", f"{noun} {session} is not on this worker; starting a new one")
    return None
