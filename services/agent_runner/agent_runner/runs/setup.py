"""The repository's setup commands, run in the turn's jail before the agent.

Each command runs with `sh -c` in the worktree, as the agent will (same jail, same
scrubbed environment, same process limits); its output is streamed as the run's log
after a `setup: <command>` progress step. The first command that exits non-zero fails
the run with the reason `setup_failed: …`, its output kept in the log. What a command
exports through `$DURSOR_ENV` (`agent_runner.runs.exports`) reaches the commands after
it, the agent and the verify commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from agent_runner.agents.executors.base import AgentInvocation, AgentSink
from agent_runner.agents.process import run_process, scrubbed_env
from agent_runner.runs.exports import ExportsRefused, exports_file, take_exports

OnLine = Callable[[str, str], Awaitable[None]]

PROGRESS_CHARS = 200


class SetupFailed(Exception):
    """A setup command failed: a non-zero exit, or exports that cannot be taken."""

    REASON = "setup_failed"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.REASON}: {detail}")

    @classmethod
    def exited(cls, command: str, status: int) -> SetupFailed:
        """The command exited with `status`."""
        return cls(f"`{command[:PROGRESS_CHARS]}` exited with status {status}")


async def run_in_turn(
    invocation: AgentInvocation,
    command: str,
    on_line: OnLine,
    extra: Mapping[str, str] | None = None,
) -> int:
    """One repository command with `sh -c` where the agent runs; its exit status."""
    return await run_process(
        ["sh", "-c", command],
        cwd=invocation.workspace,
        env=scrubbed_env(invocation.home, extra or {}, invocation.environment),
        limits=invocation.limits,
        on_line=on_line,
        jail=invocation.jail,
    )


async def run_setup(
    commands: Sequence[str], invocation: AgentInvocation, sink: AgentSink
) -> dict[str, str]:
    """Run every command in order; what they exported. Raise `SetupFailed` at the first failure."""
    exported: dict[str, str] = {}

    async def on_line(stream: str, line: str) -> None:
        await sink.log("stderr" if stream == "stderr" else "stdout", line)

    for index, command in enumerate(commands):
        await sink.progress(f"setup: {command[:PROGRESS_CHARS]}")
        target = exports_file(invocation.home, index)
        seen = {**invocation.environment, **exported}
        current = replace(invocation, environment=seen)
        status = await run_in_turn(current, command, on_line, {"DURSOR_ENV": str(target)})
        try:
            exported |= take_exports(target)
        except ExportsRefused as exc:
            raise SetupFailed(f"`{command[:PROGRESS_CHARS]}`: {exc}") from exc
        if status != 0:
            raise SetupFailed.exited(command, status)
    if exported:
        await sink.progress(f"setup exported {', '.join(sorted(exported))[:PROGRESS_CHARS]}")
    if commands:
        await sink.progress("setup done")
    return exported
