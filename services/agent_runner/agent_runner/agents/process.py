"""Agent processes: own process group, scrubbed environment, watchdogs, sure termination.

An agent runs in a new session (its own process group), so cancel and the limits can
signal the whole tree: SIGTERM first, SIGKILL after a grace period, and a final
SIGKILL to the group even after a clean exit so no grandchild outlives its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from agent_runner.agents.process_guard import GRACE_ENV, PARENT_ENV

LimitKind = Literal["wall_clock", "idle", "output_cap"]


class LiveJail(Protocol):
    """A jail a process can be started in (`agent_runner.agents.sandbox.Jail`)."""

    def environment(self) -> dict[str, str]:
        """Variables the jail adds to the process's environment."""
        ...

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the jail."""
        ...


# A protocol, not confinement's class: confinement imports settings, which imports this.
class JailForRun(Protocol):
    """What starts a run's jail (`agent_runner.agents.confinement.RunJail`)."""

    def entered(self) -> AbstractAsyncContextManager[LiveJail]:
        """The live jail for the duration of the block."""
        ...


LineHandler = Callable[[str, str], Awaitable[None]]

LINE_LIMIT_BYTES = 1 << 20
WATCHDOG_TICK_SECONDS = 0.25
DRAIN_AFTER_EXIT_SECONDS = 2.0
SAFE_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")


@dataclass(frozen=True)
class ProcessLimits:
    """How long and how loud an agent may be before it is stopped."""

    wall_clock_seconds: float
    idle_seconds: float
    output_cap_bytes: int
    kill_grace_seconds: float


class LimitExceeded(Exception):
    """The agent hit one of its limits and was stopped."""

    def __init__(self, kind: LimitKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class _Activity:
    started: float = field(default_factory=time.monotonic)
    last_output: float = field(default_factory=time.monotonic)
    output_bytes: int = 0


def scrubbed_env(
    home: Path, extra: Mapping[str, str], repository: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A minimal environment: PATH and locale from ours, HOME and TMPDIR in the workspace.

    The repository's variables (exports, secrets) come under everything the runner sets.
    """
    env = dict(repository or {})
    env.update({key: os.environ[key] for key in SAFE_ENV_KEYS if key in os.environ})
    env.update({"HOME": str(home), "TERM": "dumb", "NO_COLOR": "1", "CI": "1"})
    env["TMPDIR"] = str(private_tmp(home))
    env.update(extra)
    return env


def private_tmp(home: Path) -> Path:
    """The agent's own temporary directory inside its home (mode 0700)."""
    # A shared /tmp lets runs see each other's files, and Codex refuses to put its
    # sandbox helpers under a temporary directory that also holds its home: with
    # bubblewrap installed it then runs no command at all and reports success.
    tmp = home / "tmp"
    tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tmp


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    limits: ProcessLimits,
    on_line: LineHandler,
    stdin: bytes | None = None,
    jail: JailForRun | None = None,
) -> int:
    """Run `argv` to completion under `limits` (inside `jail` when given); returns the exit code."""
    if jail is None:
        return await _run_guarded(argv, cwd, env, limits, on_line, stdin)
    async with jail.entered() as live:
        jailed_env = dict(env) | live.environment()
        return await _run_guarded(live.command(argv), cwd, jailed_env, limits, on_line, stdin)


async def _run_guarded(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    limits: ProcessLimits,
    on_line: LineHandler,
    stdin: bytes | None,
) -> int:
    process = await asyncio.create_subprocess_exec(
        *guarded(argv),
        cwd=cwd,
        env=dict(env) | guard_env(limits),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=LINE_LIMIT_BYTES,
    )
    try:
        if stdin is not None and process.stdin is not None:
            process.stdin.write(stdin)
            await process.stdin.drain()
            process.stdin.close()
        return await _supervise(process, limits, on_line)
    except BaseException:
        await terminate_group(process, limits.kill_grace_seconds)
        raise
    finally:
        _kill_group(process.pid, signal.SIGKILL)


def guarded(argv: Sequence[str]) -> list[str]:
    """`argv` behind the process guard, so the agent's group dies with this worker."""
    return [sys.executable, "-I", "-m", "agent_runner.agents.process_guard", *argv]


def guard_env(limits: ProcessLimits) -> dict[str, str]:
    """What the guard needs to know; it removes these before starting the agent."""
    return {GRACE_ENV: str(limits.kill_grace_seconds), PARENT_ENV: str(os.getpid())}


async def _supervise(
    process: asyncio.subprocess.Process, limits: ProcessLimits, on_line: LineHandler
) -> int:
    activity = _Activity()
    assert process.stdout is not None
    assert process.stderr is not None
    pumps = asyncio.gather(
        _pump(process.stdout, "stdout", on_line, activity, limits),
        _pump(process.stderr, "stderr", on_line, activity, limits),
    )
    watchdog = asyncio.ensure_future(_watch(process, limits, activity))
    try:
        waiting: list[asyncio.Future[Any]] = [pumps, watchdog]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if watchdog.done():
            watchdog.result()
        await pumps
        return await _exit_code(process)
    finally:
        watchdog.cancel()
        pumps.cancel()
        with contextlib.suppress(BaseException):
            await pumps


async def _exit_code(process: asyncio.subprocess.Process) -> int:
    return await process.wait()


async def _pump(
    reader: asyncio.StreamReader,
    stream: str,
    on_line: LineHandler,
    activity: _Activity,
    limits: ProcessLimits,
) -> None:
    while line := await _read_line(reader):
        activity.last_output = time.monotonic()
        activity.output_bytes += len(line)
        if activity.output_bytes > limits.output_cap_bytes:
            raise LimitExceeded("output_cap", f"output exceeded {limits.output_cap_bytes} bytes")
        await on_line(stream, line.decode("utf-8", errors="replace").rstrip("\r\n"))


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # a line longer than the limit: take what is buffered
        return await reader.read(LINE_LIMIT_BYTES)


async def _watch(
    process: asyncio.subprocess.Process, limits: ProcessLimits, activity: _Activity
) -> None:
    while True:
        await asyncio.sleep(WATCHDOG_TICK_SECONDS)
        now = time.monotonic()
        if process.returncode is not None:
            await asyncio.sleep(DRAIN_AFTER_EXIT_SECONDS)
            # The agent exited but something it spawned still holds its output open.
            _kill_group(process.pid, signal.SIGKILL)
            return
        if now - activity.started > limits.wall_clock_seconds:
            raise LimitExceeded("wall_clock", f"ran longer than {limits.wall_clock_seconds:.0f} s")
        if now - activity.last_output > limits.idle_seconds:
            raise LimitExceeded("idle", f"printed nothing for {limits.idle_seconds:.0f} s")


async def terminate_group(process: asyncio.subprocess.Process, grace_seconds: float) -> None:
    """SIGTERM the whole group; SIGKILL whatever of it is still alive after the grace period."""
    _kill_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and _group_alive(process):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), 0.1)
    _kill_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await process.wait()


def _group_alive(process: asyncio.subprocess.Process) -> bool:
    if process.returncode is None:
        return True
    try:
        os.killpg(process.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
