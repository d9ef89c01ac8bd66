"""The bootstrap's concurrent steps: a log each, a failure stops the rest, the summary line.

scripts/bootstrap.sh is sourced (it then only defines its functions) and its step runner
drives small shell steps, in a bash of its own with .data/ in a temporary directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_steps(data: Path, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`script` after sourcing the bootstrap, as main runs steps (job control, stop on exit)."""
    prelude = (
        f'source "{ROOT}/scripts/bootstrap.sh"\n'
        'mkdir -p "$DURSOR_DATA/bootstrap"\n'
        "set -m\n"
        "trap stop_steps EXIT\n"
    )
    return subprocess.run(
        ["bash", "-c", prelude + script],
        env=os.environ | {"DURSOR_DATA": str(data)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its reaper does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    """Whether the process is gone within `seconds`."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_steps_log_apart_and_the_summary_puts_the_slowest_first(tmp_path: Path) -> None:
    """Each step's output goes to its log, its line says when it is done; slowest first."""
    result = run_steps(
        tmp_path,
        "quick() { log 'working'; echo 'detail only in the log'; }\n"
        "slower() { sleep 0.6; }\n"
        "start_step quick quick\n"
        "start_step slower slower\n"
        "await_steps quick slower\n"
        "time_summary\n",
    )
    assert result.returncode == 0, result.stderr
    summary = re.fullmatch(r"slower (\d+\.\d) s, quick (\d+\.\d) s", result.stdout)
    assert summary, result.stdout
    assert float(summary[1]) >= 0.6
    assert float(summary[1]) >= float(summary[2])
    assert "quick: working" in result.stderr
    assert re.search(r"quick done in \d+\.\d s", result.stderr)
    assert "detail only in the log" not in result.stderr
    log = (tmp_path / "bootstrap" / "quick.log").read_text()
    assert "working" in log
    assert "detail only in the log" in log


def test_a_failed_step_shows_its_log_and_stops_the_others(tmp_path: Path) -> None:
    """The failure ends the bootstrap at once with the step's log; running steps are killed."""
    sleeper = tmp_path / "sleeper.pid"
    started = time.monotonic()
    result = run_steps(
        tmp_path,
        f"slow() {{ sleep 120 & echo $! >{sleeper}; wait; }}\n"
        "broken() { sleep 0.5; echo 'why it broke'; return 3; }\n"
        "start_step slow slow\n"
        "start_step broken broken\n"
        "await_steps slow broken\n"
        "echo 'not reached'\n",
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 60
    assert "why it broke" in result.stderr
    assert re.search(r"broken failed \(exit 3\) after \d+\.\d s", result.stderr)
    assert "not reached" not in result.stdout
    assert "slow done" not in result.stderr
    pid = int(sleeper.read_text())
    try:
        assert gone_within(pid, 10), "the slow step's process was left running"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_server_a_step_starts_does_not_hold_our_output_open(tmp_path: Path) -> None:
    """A daemon started by a step keeps its descriptors: our stderr pipe is not among them."""
    server = tmp_path / "server.pid"
    try:
        result = run_steps(
            tmp_path,
            f"start_step server bash -c 'sleep 120 & echo $! >{server}'\nawait_steps server\n",
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the bootstrap's output stayed open while the step's server ran")
    finally:
        if server.exists() and alive(int(server.read_text())):
            os.kill(int(server.read_text()), signal.SIGKILL)
    assert result.returncode == 0, result.stderr
    assert "server done in" in result.stderr
