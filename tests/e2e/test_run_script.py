"""`scripts/run.sh` as a person runs it: one "ready" line, the README's first call, Ctrl-C.

The script uses fixed ports (5173, 8080-8083, 3500-3503, 3520-3523, 3530); these tests fail
at once, saying so, when another platform holds them. Each gets its own database, Redis
DB and data directory, so they never touch a developer's platform data.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import _redis_dbs, redis_client
from tests.support.backing import Backing
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import make_remote

# Each starts the whole platform from scratch (bootstrap included): slow on a busy machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
PORTS = (5173, 8080, 8081, 8082, 8083, 3500, 3501, 3502, 3503, 3520, 3521, 3522, 3523, 3530)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def ports_in_use() -> list[int]:
    """The platform's fixed ports that something listens on."""
    listening = {
        getattr(c.laddr, "port", 0) for c in psutil.net_connections("tcp") if c.status == "LISTEN"
    }
    return sorted(set(PORTS) & listening)


@pytest.fixture
def free_platform_ports() -> None:
    """Fail clearly when the fixed ports are taken (a platform of someone else's)."""
    busy = ports_in_use()
    assert not busy, f"scripts/run.sh needs ports {busy}: stop whatever holds them first"


@pytest.fixture
async def platform_env(
    backing: Backing, databases: DatabaseFactory, tmp_path: Path, free_platform_ports: None
) -> dict[str, str]:
    """The environment of a run.sh of its own: database, Redis DB, data directory."""
    redis_db = next(_redis_dbs)
    redis_client(backing, redis_db).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DURSOR_", "DAPR_"))}
    return env | {
        "DURSOR_DATA": str(tmp_path / ".data"),
        # The test's repositories live here (the laptop default is the home directory).
        "DURSOR_LOCAL_REPOS_ROOT": str(tmp_path),
        "DURSOR_DATABASE_URL": await databases.fresh(),
        "DURSOR_REDIS_HOST": backing.redis_host,
        "DURSOR_REDIS_PASSWORD": backing.redis_password,
        "DURSOR_REDIS_DB": str(redis_db),
        "DURSOR_STOP_GRACE_SECONDS": "20",
        "TERM": "xterm-256color",
    }


@dataclass
class Terminal:
    """A process on a pseudo-terminal it controls, as in a person's terminal window."""

    process: subprocess.Popen[bytes]
    master: int
    output: bytearray

    @classmethod
    def start(cls, args: list[str], env: dict[str, str], cwd: Path) -> Terminal:
        """Start `args` as the session leader of a new terminal."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x00\x32\x00\xa0\x00\x00\x00\x00")
        process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # noqa: PLW1509
        )
        os.close(slave)
        return cls(process, master, bytearray())

    @property
    def text(self) -> str:
        """What was printed so far, colours removed."""
        return ANSI.sub("", self.output.decode(errors="replace")).replace("\r", "")

    def read(self, seconds: float) -> None:
        """Collect output for up to `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def wait_for(self, pattern: str, timeout: float) -> str:
        """Read until a line matches `pattern`; that line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text, re.MULTILINE):
                return found.group(0)
            assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.text}"
            self.read(0.2)
        raise AssertionError(f"no {pattern!r} after {timeout}s:\n{self.text[-4000:]}")

    def interrupt(self) -> None:
        """Ctrl-C, typed at the terminal."""
        os.write(self.master, b"\x03")


def session_processes(session: int) -> list[str]:
    """Every live process of a session (what the script started), described."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{process.pid} {' '.join(process.info['cmdline'] or [])[:120]}")
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def readme_first_call() -> str:
    """The README's "First call" shell block, verbatim."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("First call after `scripts/run.sh`", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def dursor(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The CLI, as a person's second terminal would run it."""
    return subprocess.run(
        [sys.executable, "-m", "dursor_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture
def cleanup(tmp_path: Path) -> Iterator[list[int]]:
    """Sessions to kill if a test fails half-way: the ones it names and the one its
    platform's pid file records (a detached platform leads its own session)."""
    sessions: list[int] = []
    yield sessions
    pid_file = tmp_path / ".data" / "platform.pid"
    if pid_file.exists() and (recorded := pid_file.read_text().split()[2:]) != ["0"]:
        sessions += [int(s) for s in recorded]
    for session in sessions:
        for line in session_processes(session):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def test_ready_means_the_first_call_works_and_ctrl_c_stops_everything(
    platform_env: dict[str, str], tmp_path: Path, cleanup: list[int]
) -> None:
    terminal = Terminal.start(["bash", "scripts/run.sh"], platform_env, ROOT)
    cleanup.append(terminal.process.pid)
    ready = terminal.wait_for(r"^\[dursor\] (not )?ready: .*$", timeout=420)
    assert ready.startswith("[dursor] ready: ")
    first_call = subprocess.run(
        ["bash", "-c", readme_first_call()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(first_call.stdout)["role"] == "admin", first_call.stdout + first_call.stderr

    cli_env = cli_environment(platform_env, tmp_path)
    status = dursor(cli_env, "status", "--platform", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    components = json.loads(status.stdout)["components"]
    assert len(components) == 10  # four apps, four sidecars, Sentry, the web UI
    assert all(c["healthy"] for c in components), components
    ran = run_one(cli_env, tmp_path)
    assert ran["outcome"] == "succeeded"
    terminal.read(2)
    assert terminal.text.count("ready: ") == 1
    assert_human_logs(terminal.text)

    terminal.interrupt()
    terminal.wait_for(r"^\[dursor\] stopped$", timeout=90)
    assert terminal.process.wait(30) in (130, 0)
    assert session_processes(terminal.process.pid) == []
    assert ports_in_use() == []


def test_dursor_up_status_and_down(
    platform_env: dict[str, str], tmp_path: Path, cleanup: list[int]
) -> None:
    cli_env = cli_environment(platform_env, tmp_path)
    up = dursor(cli_env, "up", "--root", str(ROOT), timeout=420)
    assert up.returncode == 0, up.stdout + up.stderr
    supervisor, _, session = (tmp_path / ".data" / "platform.pid").read_text().split()
    cleanup.append(int(session))
    assert session == supervisor
    status = dursor(cli_env, "status", "--platform")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("✔ healthy") == 10
    assert "web UI" in status.stdout
    assert "run-api sidecar" in status.stdout
    down = dursor(cli_env, "down", "--root", str(ROOT))
    assert down.returncode == 0, down.stderr
    assert session_processes(int(session)) == []
    assert ports_in_use() == []
    after = dursor(cli_env, "status", "--platform", "--json")
    assert after.returncode == 1
    assert json.loads(after.stdout)["ready"] is False


def cli_environment(platform_env: dict[str, str], home: Path) -> dict[str, str]:
    """The CLI's environment: a config dir of its own, the platform's admin password."""
    return platform_env | {"XDG_CONFIG_HOME": str(home / "config"), "DURSOR_ROOT": str(ROOT)}


def run_one(env: dict[str, str], tmp_path: Path) -> Any:
    """Log in as the admin and run the sample agent on a local repository, to its end."""
    secrets = json.loads((tmp_path / ".data" / "secrets.json").read_text())
    login = subprocess.run(
        [sys.executable, "-m", "dursor_cli", "login", "-u", "admin", "--password-stdin"],
        input=secrets["admin-password"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    remote = make_remote(tmp_path / "repo")
    ran = dursor(
        env,
        "run",
        "--repo",
        f"file://{remote}",
        "-e",
        "command,template=append-note",
        "--wait",
        "--timeout",
        "120",
        "--json",
        "from the run.sh test",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return json.loads(ran.stdout)


def assert_human_logs(text: str) -> None:
    """Console logs on a terminal, and no line per delivered pub/sub message."""
    app_lines = [line for line in text.splitlines() if line.startswith("== APP")]
    assert app_lines, text[-3000:]
    assert not [line for line in app_lines if line.split("== ", 2)[-1].lstrip().startswith("{")]
    assert not [line for line in app_lines if "/dapr/" in line], "\n".join(app_lines)
    assert any("request" in line and "/v1/" in line for line in app_lines), "\n".join(app_lines)
