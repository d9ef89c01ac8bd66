"""`command` executor end to end, in the run's jail against without: same run, one process.

Each round runs the same template turn (`append-note`: a shell writes the instruction
to NOTES.md) through `CommandAgent.run` and `run_process` (process guard, scrubbed
environment, pumps), once unjailed and once in a fresh jail (build, run, report, hand
the worktree back, teardown), alternating so both see the same load. The platform around
it (queue, git, events) is the same either way and not timed. Root with bubblewrap:

    uv run python -m bench.command_jail --rounds 30
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from agent_runner.agents.confinement import Confinement, RunJail
from agent_runner.agents.executors.base import AgentInvocation, Stream
from agent_runner.agents.executors.command import CommandAgent
from agent_runner.agents.process import ProcessLimits
from agent_runner.settings import RunnerSettings
from dursor_contracts.executors import CommandOptions

TEMPLATE = [
    "sh",
    "-c",
    'printf "%s\\n" "$1" >> NOTES.md && echo "wrote NOTES.md"',
    "x",
    "{instruction}",
]
LIMITS = ProcessLimits(
    wall_clock_seconds=60, idle_seconds=60, output_cap_bytes=1 << 20, kill_grace_seconds=1
)


class QuietSink:
    """Takes the agent's lines and drops them."""

    async def log(self, stream: Stream, line: str) -> None:
        """Dropped."""

    async def progress(self, message: str) -> None:
        """Dropped."""


async def one_turn(agent: CommandAgent, root: Path, confinement: Confinement | None) -> float:
    """Seconds for one turn in fresh folders (jailed when `confinement` is given)."""
    run_id = uuid4()
    workspace, home = root / run_id.hex / "worktree", root / run_id.hex / "home"
    workspace.mkdir(parents=True)
    home.mkdir()
    started = time.perf_counter()
    jail: RunJail | None = None
    if confinement is not None:
        jail = await confinement.for_run(run_id, workspace, home, QuietSink().progress)
        assert jail is not None, "this host cannot jail: run the bench where bubblewrap works"
    invocation = AgentInvocation(
        run_id,
        1,
        "hello",
        workspace,
        home,
        None,
        CommandOptions(template="note"),
        None,
        None,
        LIMITS,
        jail,
    )
    outcome = await agent.run(invocation, QuietSink())
    elapsed = time.perf_counter() - started
    if not outcome.succeeded or "hello" not in (workspace / "NOTES.md").read_text():
        raise RuntimeError(f"the turn failed: {outcome.error}")
    return elapsed


def p50_p99(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


async def main(rounds: int) -> None:
    """Alternate unjailed and jailed turns and print both with their ratio."""
    agent = CommandAgent({"note": TEMPLATE})
    with tempfile.TemporaryDirectory(prefix="dursor-bench-") as tmp:
        root = Path(tmp)
        settings = RunnerSettings(sandbox="jail", sandbox_state_dir=str(root / "sandbox"))
        confinement = await Confinement.open(settings)
        plain, jailed = [], []
        for _ in range(rounds):
            plain.append(await one_turn(agent, root, None))
            jailed.append(await one_turn(agent, root, confinement))
    (p50, p99), (j50, j99) = p50_p99(plain), p50_p99(jailed)
    print("| turn | p50 ms | p99 ms |")
    print("|---|---|---|")
    print(f"| unjailed | {p50:.1f} | {p99:.1f} |")
    print(f"| jailed | {j50:.1f} | {j99:.1f} |")
    print(f"| ratio jailed/unjailed | {j50 / p50:.2f}x | {j99 / p99:.2f}x |")
    print(f"added per run (p50): {j50 - p50:.1f} ms over {rounds} rounds")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
