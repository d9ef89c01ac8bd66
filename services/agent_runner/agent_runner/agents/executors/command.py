"""`command`: any command-line agent from an operator-defined argv template.

Templates are argv lists; placeholders are replaced inside single arguments, so the
instruction reaches the program as one argument and is never parsed by a shell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from agent_runner.agents.confinement import RunJail
from agent_runner.agents.executors.base import AgentInvocation, AgentOutcome, AgentSink, options_of
from agent_runner.agents.process import run_process, scrubbed_env
from dursor_contracts.executors import CommandOptions

PLACEHOLDER = re.compile(r"\{(instruction|workspace|run_id|turn|model)\}")


class UnknownTemplate(Exception):
    """The run names a command template this worker does not have."""


def render_argv(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Fill placeholders in each argument; the argument count never changes."""
    return [PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in template]


class CommandAgent:
    """Runs an argv template in the run's worktree."""

    kind = "command"

    def __init__(self, templates: Mapping[str, Sequence[str]]) -> None:
        self._templates = templates

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Run the template; a non-zero exit fails the turn."""
        argv = render_argv(self._template(invocation), _values(invocation))
        await sink.progress(f"running {argv[0]}")
        exit_code = await run_process(
            argv,
            cwd=invocation.workspace,
            env=scrubbed_env(invocation.home, {}, invocation.environment),
            limits=invocation.limits,
            on_line=lambda stream, line: sink.log(
                "stderr" if stream == "stderr" else "stdout", line
            ),
            jail=_jail_of(invocation),
        )
        error = None if exit_code == 0 else f"{argv[0]} exited with status {exit_code}"
        return AgentOutcome(exit_code=exit_code, error=error, summary=f"{argv[0]} finished")

    def _template(self, invocation: AgentInvocation) -> Sequence[str]:
        name = options_of(invocation, CommandOptions).template
        if name not in self._templates:
            raise UnknownTemplate(f"no command template named {name!r} on this worker")
        return self._templates[name]


def _jail_of(invocation: AgentInvocation) -> RunJail | None:
    """The turn's jail, reaching the run's model when it has a profile with a base URL."""
    credential = invocation.credential
    if invocation.jail is None:
        return None
    return invocation.jail.reaching(credential.base_url if credential else None)


def _values(invocation: AgentInvocation) -> dict[str, str]:
    return {
        "instruction": invocation.instruction,
        "workspace": str(invocation.workspace),
        "run_id": str(invocation.run_id),
        "turn": str(invocation.turn),
        "model": invocation.model or "",
    }
