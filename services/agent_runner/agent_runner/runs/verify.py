"""The repository's verify commands, run in the turn's jail after the agent.

Each command runs like a setup command (`agent_runner.runs.setup`) after a
`verify: <command>` step, its output streamed as the run's log; the first that fails
ends verification as failed. JUnit XML reports the commands left in the worktree
(`*junit*.xml`, `TEST-*.xml`, up to 2 MiB each) give the test and failure counts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree

from agent_runner.agents.executors.base import AgentInvocation, AgentSink
from agent_runner.runs.setup import PROGRESS_CHARS, run_in_turn
from dursor_contracts.verification import Verification

REPORT_GLOBS = ("**/*junit*.xml", "**/TEST-*.xml")
REPORT_MAX_BYTES = 2 << 20
REPORTS_MAX = 50
TAIL_LINES = 40


async def run_verify(
    commands: Sequence[str], invocation: AgentInvocation, sink: AgentSink
) -> Verification | None:
    """Run the commands in order (None when there are none); what they found."""
    if not commands:
        return None
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    async def on_line(stream: str, line: str) -> None:
        tail.append(line)
        await sink.log("stderr" if stream == "stderr" else "stdout", line)

    exit_code = 0
    for command in commands:
        await sink.progress(f"verify: {command[:PROGRESS_CHARS]}")
        exit_code = await run_in_turn(invocation, command, on_line)
        if exit_code != 0:
            break
    tests, failures = junit_counts(invocation.workspace)
    result = Verification(
        passed=exit_code == 0,
        exit_code=exit_code,
        duration_seconds=round(time.monotonic() - started, 3),
        tests=tests,
        failures=failures,
        output_tail=list(tail),
    )
    verdict = "verification passed" if result.passed else f"verification exited {exit_code}"
    await sink.progress(verdict)
    return result


def junit_counts(worktree: Path) -> tuple[int | None, int | None]:
    """Tests and failures (errors included) over the JUnit reports found; None when none."""
    tests = failures = 0
    found = False
    for report in _reports(worktree):
        try:
            root = ElementTree.parse(report).getroot()  # noqa: S314 (expat limits entity expansion)
        except (ElementTree.ParseError, OSError):
            continue
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            found = True
            tests += _count(suite, "tests")
            failures += _count(suite, "failures") + _count(suite, "errors")
    return (tests, failures) if found else (None, None)


def _reports(worktree: Path) -> list[Path]:
    seen: list[Path] = []
    for pattern in REPORT_GLOBS:
        for path in worktree.glob(pattern):
            inside_git = ".git" in path.relative_to(worktree).parts
            if inside_git or path.is_symlink() or not path.is_file() or path in seen:
                continue
            if path.stat().st_size <= REPORT_MAX_BYTES:
                seen.append(path)
            if len(seen) >= REPORTS_MAX:
                return seen
    return seen


def _count(suite: ElementTree.Element, name: str) -> int:
    value = suite.get(name, "0")
    return int(value) if value.isdigit() else 0
