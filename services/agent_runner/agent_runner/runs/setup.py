"""The repository's setup commands, run in the turn's jail before the agent.

Each command runs with `sh -c` in the worktree, as the agent will (same jail, same
scrubbed environment, same process limits); its output is streamed as the run's log
after a `setup: <command>` progress step. The first command that exits non-zero fails
the run with the reason `setup_failed: …`, its output kept in the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from agent_runner.agents.executors.base import AgentInvocation, AgentSink
from agent_runner.agents.process import run_process, scrubbed_env

OnLine = Callable[[str, str], Awaitable[None]]

PROGRESS_CHARS = 200


class SetupFailed(Exception):
    """A setup command exited with a non-zero status."""

    REASON = "setup_failed"

    def __init__(self, command: str, status: int) -> None:
        super().__init__(f"{self.REASON}: `{command[:PROGRESS_CHARS]}` exited with status {status}")


async def run_in_turn(invocation: AgentInvocation, command: str, on_line: OnLine) -> int:
    """One repository command with `sh -c` where the agent runs; its exit status."""
    return await run_process(
        ["sh", "-c", command],
        cwd=invocation.workspace,
        env=scrubbed_env(invocation.home, {}),
        limits=invocation.limits,
        on_line=on_line,
        jail=invocation.jail,
    )


async def run_setup(commands: Sequence[str], invocation: AgentInvocation, sink: AgentSink) -> None:
    """Run every command in order; raise `SetupFailed` at the first that fails."""
    for command in commands:
        await sink.progress(f"setup: {command[:PROGRESS_CHARS]}")

        async def on_line(stream: str, line: str) -> None:
            await sink.log("stderr" if stream == "stderr" else "stdout", line)

        status = await run_in_turn(invocation, command, on_line)
        if status != 0:
            raise SetupFailed(command, status)
    if commands:
        await sink.progress("setup done")
