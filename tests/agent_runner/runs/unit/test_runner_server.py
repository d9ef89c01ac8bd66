"""The runner serves on the standard asyncio loop, however it is launched.

uvloop spawns child processes with fork() and blocks the loop until each child has
exec'd; on a loaded host that stalled a runner's loop for most of every run (twice both
runners stayed unready for over 30 s in the chaos bench). The standard loop spawns with
vfork. Every launcher must go through `python -m agent_runner`, which owns that choice.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from agent_runner import server
from tests.support.platform import _server_command

REPO = Path(__file__).resolve().parents[4]


def test_the_server_builds_a_standard_asyncio_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options, app=app))
    server.main(["--host", "127.0.0.1", "--port", "8123"])
    assert started["app"] == "agent_runner.app:create_app"
    assert started["factory"] is True
    assert started["port"] == 8123
    config = uvicorn.Config(**started)
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("asyncio."), type(loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_every_launcher_starts_the_runner_through_its_server_module() -> None:
    dapr_yaml = (REPO / "dapr.yaml").read_text()
    runner_command = re.search(r"appID: agent-runner\n(?:.*\n)*?\s+command: (.*)", dapr_yaml)
    assert runner_command is not None
    assert '"agent_runner", "8082"' in runner_command.group(1)
    dockerfile = (REPO / "services/agent_runner/Dockerfile").read_text()
    assert 'CMD ["python", "-m", "agent_runner",' in dockerfile
    assert "agent_runner.app:create_app" not in dockerfile
    assert _server_command("agent-runner")[1:3] == ["-m", "agent_runner"]
