"""`dursor tail`: exact resume across network loss and a gateway restart, and how it looks."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyte
import pytest

from tests.cli.cli_runner import Dursor, assert_shape
from tests.cli.conftest import FAST_LOGS
from tests.conftest import running_platform
from tests.support.flaky_proxy import FlakyProxy
from tests.support.git_remote import make_remote
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def platform(
    backing: Any, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """One of each service; the gateway may be restarted by a test."""
    async with running_platform(
        backing, databases, tmp_path_factory.mktemp("tail"), FAST_LOGS
    ) as started:
        yield started


async def start_runs(platform: Platform, tmp_path: Path, *executors: tuple[str, str]) -> list[Any]:
    """Runs of `command` templates (template, instruction) on a new task; their documents."""
    task_id = await platform.new_task(f"file://{make_remote(tmp_path)}", "tail")
    runs = []
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=platform.bearer("developer"), timeout=30
    ) as client:
        for template, instruction in executors:
            accepted = await client.post(
                f"/v1/tasks/{task_id}/runs",
                json={
                    "instruction": instruction,
                    "executors": [{"type": "command", "options": {"template": template}}],
                },
            )
            runs += accepted.json()["runs"]
    return runs


async def event_log(platform: Platform, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run from the polling API, `GET /v1/runs/{id}/events`."""
    events: list[dict[str, Any]] = []
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=platform.bearer("viewer"), timeout=30
    ) as client:
        while page := (
            await client.get(f"/v1/runs/{run_id}/events", params={"after": len(events)})
        ).json():
            events += page
    return events


async def log_lines(platform: Platform, run_id: str) -> int:
    """How many output lines a run's events carry."""
    events = await event_log(platform, run_id)
    return sum(len(e["data"]["lines"]) for e in events if e["type"] == "log")


def comparable(event: dict[str, Any]) -> tuple[int, str, Any]:
    """What must be identical between the stream and the event log."""
    return (event["seq"], event["type"], event["data"])


class LineReader:
    """Collects a process's stdout lines on a thread, so a test can watch them arrive."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True)
        self.thread.start()

    async def until(self, count: int, timeout: float = 60) -> None:
        """Wait for `count` lines."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            assert time.monotonic() < deadline, f"only {len(self.lines)} lines"
            await asyncio.sleep(0.05)


async def finish(process: subprocess.Popen[str], reader: LineReader) -> tuple[int, str]:
    """Wait for the CLI to exit; its exit code and stderr."""
    code = await asyncio.to_thread(process.wait, 180)
    reader.thread.join(10)
    assert process.stderr is not None
    return code, process.stderr.read()


async def test_tail_resumes_after_network_loss_without_losing_or_repeating(
    platform: Platform, tmp_path: Path
) -> None:
    # Long enough (about 20 s) to outlast three cuts and the CLI's reconnects.
    (run,) = await start_runs(platform, tmp_path, ("chatty", "1000"))
    proxy = FlakyProxy(platform.gateway.app_port)
    await proxy.start()
    try:
        dursor = Dursor(tmp_path, proxy.url, {"DURSOR_TOKEN": platform.mint_token("viewer")})
        process = dursor.start("tail", run["id"], "--json")
        reader = LineReader(process)
        opened_at_cut = 0
        for _ in range(3):
            # Cut a live stream: one that delivered lines since the last cut, so one the
            # CLI opened again after it.
            await reader.until(len(reader.lines) + 5)
            assert proxy.streams_opened > opened_at_cut
            opened_at_cut = proxy.streams_opened
            proxy.cut()
        code, stderr = await finish(process, reader)
    finally:
        await proxy.stop()
    assert code == 0, stderr
    received = [json.loads(line) for line in reader.lines]
    for event in received:
        assert_shape(event, "event")
    assert [comparable(e) for e in received] == [
        comparable(e) for e in await event_log(platform, run["id"])
    ]
    assert received[-1]["type"] == "completed"
    assert proxy.streams_opened > opened_at_cut  # it came back after the last cut too


async def test_tail_survives_a_gateway_restart_mid_stream(
    platform: Platform, tmp_path: Path
) -> None:
    (run,) = await start_runs(platform, tmp_path, ("chatty", "600"))
    gateway = platform.gateway
    dursor = Dursor(tmp_path, gateway.url, {"DURSOR_TOKEN": platform.mint_token("viewer")})
    process = dursor.start("tail", run["id"], "--json")
    reader = LineReader(process)
    await reader.until(20)
    gateway.kill()
    seen_when_killed = len(reader.lines)
    await asyncio.sleep(1.0)
    restarted = platform.start("events-gateway", app_port=gateway.app_port)
    await platform.wait_ready(restarted)
    code, stderr = await finish(process, reader)
    assert code == 0, stderr
    received = [json.loads(line) for line in reader.lines]
    assert [comparable(e) for e in received] == [
        comparable(e) for e in await event_log(platform, run["id"])
    ]
    assert received[-1]["type"] == "completed"
    assert seen_when_killed < len(received)  # the restart came mid-stream


def pty_run(args: list[str], env: dict[str, str], columns: int, rows: int) -> tuple[int, bytes]:
    """Run a command in a pseudo-terminal of the given size; its exit code and every byte."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    output = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    return process.wait(30), bytes(output)


async def test_tail_in_a_terminal_shows_each_run_in_its_colour_and_a_progress_line(
    platform: Platform, tmp_path: Path
) -> None:
    chatty, note = await start_runs(
        platform, tmp_path, ("chatty", "12"), ("append-note", "a note for the demo")
    )
    dursor = Dursor(tmp_path, platform.gateway.url, {"DURSOR_TOKEN": platform.mint_token("viewer")})
    env = dursor.environment({"TERM": "xterm-256color"})
    env.pop("NO_COLOR", None)
    code, raw = await asyncio.to_thread(
        pty_run, [sys.executable, "-m", "dursor_cli", "tail", chatty["task_id"]], env, 160, 300
    )
    screen = pyte.Screen(160, 300)
    pyte.Stream(screen).feed(raw.decode())
    shown = [line.rstrip() for line in screen.display if line.strip()]
    assert code == 0, "\n".join(shown)
    a, b = f"command:chatty#{chatty['id'][:8]}", f"command:append-note#{note['id'][:8]}"
    assert [line for line in shown if line.startswith(f"{a} │ line ")] == [
        f"{a} │ line {i}" for i in range(1, 13)
    ]
    assert f"{b} │ wrote NOTES.md" in shown
    assert f"{b} │ ● running" in shown
    assert any(line.startswith(f"{a} │ ✔ succeeded: ") for line in shown)
    progress = shown[-2:]
    lines = [await log_lines(platform, run["id"]) for run in (chatty, note)]
    assert progress[0].startswith(f"✔ {a}  succeeded  turn 1 · {lines[0]} lines · ")
    assert progress[1].startswith(f"✔ {b}  succeeded  turn 1 · {lines[1]} lines · ")
    assert colour_of(screen, a) != colour_of(screen, b)
    assert b"\x1b[" in raw  # a terminal gets colour


def colour_of(screen: pyte.Screen, text: str) -> str:
    """The foreground colour of the first place `text` appears on the screen."""
    for row, line in enumerate(screen.display):
        if (column := line.find(text)) >= 0:
            return str(screen.buffer[row][column].fg)
    raise AssertionError(f"{text} is not on the screen")


async def test_the_gateway_is_ready_only_while_the_apps_it_routes_to_are(
    platform: Platform,
) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=10) as client:
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]) == (
            200,
            {"database": True, "sidecar": True, "run-api": True, "auth": True},
        )
        auth = platform.replica("auth")
        auth.stop()
        down = await client.get("/readyz")
        assert (down.status_code, down.json()["checks"]["auth"]) == (503, False)
        assert down.json()["checks"]["run-api"] is True
        await platform.wait_ready(platform.start("auth"))
        assert (await client.get("/readyz")).status_code == 200
