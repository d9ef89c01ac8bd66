"""Every service is served by uvicorn with the httptools parser, and on uvloop, however it starts.

Every launcher also keeps idle connections longer than the sidecar's app channel does
(`dursor_kit/web/keep_alive.py`), so daprd never posts on a connection the app is closing.

The one exception is deliberate and measured: the agent-runner runs the standard asyncio
loop (`agent_runner/server.py` says why: uvloop's fork-based spawns stall its loop).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import uvicorn
import uvloop
from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from agent_runner import server as runner_server
from dursor_kit.web.keep_alive import APP_KEEP_ALIVE_SECONDS
from events_gateway import server
from events_gateway.settings import GatewaySettings
from tests.support.platform import APPS, _server_command

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile"))
OTHER_LOOP_OR_PARSER = re.compile(r"--loop[= ](?!uvloop)|--http[= ](?!httptools)")


def test_uvicorns_automatic_choices_are_uvloop_and_httptools_here() -> None:
    assert auto_loop_factory() is uvloop.new_event_loop
    assert AutoHTTPProtocol is HttpToolsProtocol


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_no_image_pins_another_loop_or_parser(dockerfile: Path) -> None:
    commands = [
        json.loads(line.removeprefix("CMD "))
        for line in dockerfile.read_text().splitlines()
        if line.startswith("CMD [")
    ]
    assert commands, f"{dockerfile} has no CMD"
    served = " ".join(commands[-1])
    assert served.startswith(("uvicorn ", "python -m events_gateway", "python -m agent_runner"))
    assert not OTHER_LOOP_OR_PARSER.search(served)


def test_local_runs_and_tests_pin_no_other_loop_or_parser() -> None:
    assert not OTHER_LOOP_OR_PARSER.search((ROOT / "scripts" / "serve-app.sh").read_text())
    for app_id in APPS:
        assert not OTHER_LOOP_OR_PARSER.search(" ".join(_server_command(app_id)))


def test_the_gateway_asks_for_uvloop_and_an_httptools_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: asked.update(options))
    monkeypatch.setattr(server, "create_app", lambda settings: None)
    server.serve("127.0.0.1", 0, "warning", GatewaySettings(app_id="events-gateway"))
    assert asked["loop"] == "uvloop"
    http = asked["http"]
    assert isinstance(http, type)
    assert issubclass(http, HttpToolsProtocol)


# daprd's app channel drops idle connections at 90 s (Go's DefaultTransport).
SIDECAR_IDLE_SECONDS = 90
KEEP_ALIVE_FLAG = re.compile(r"--timeout-keep-alive[= ](\d+)")


def test_the_apps_keep_alive_outlasts_the_sidecars() -> None:
    assert APP_KEEP_ALIVE_SECONDS > SIDECAR_IDLE_SECONDS


def launched_keep_alive(command: str) -> int:
    """The keep-alive a uvicorn command line asks for (uvicorn's default is 5 s)."""
    found = KEEP_ALIVE_FLAG.search(command)
    return int(found.group(1)) if found else 5


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_served_by_the_uvicorn_command_keep_connections_long_enough(
    dockerfile: Path,
) -> None:
    cmd = [line for line in dockerfile.read_text().splitlines() if line.startswith("CMD [")][-1]
    served = " ".join(json.loads(cmd.removeprefix("CMD ")))
    if served.startswith("uvicorn "):
        assert launched_keep_alive(served) == APP_KEEP_ALIVE_SECONDS


def test_local_runs_and_tests_keep_connections_long_enough() -> None:
    serve_app = (ROOT / "scripts" / "serve-app.sh").read_text()
    assert launched_keep_alive(serve_app.split("exec uv run --frozen --no-sync uvicorn")[1]) == (
        APP_KEEP_ALIVE_SECONDS
    )
    for app_id in APPS:
        command = " ".join(_server_command(app_id))
        if " uvicorn " in command:
            assert launched_keep_alive(command) == APP_KEEP_ALIVE_SECONDS


def test_the_server_modules_keep_connections_long_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: asked.append(options))
    monkeypatch.setattr(server, "create_app", lambda settings: None)
    server.serve("127.0.0.1", 0, "warning", GatewaySettings(app_id="events-gateway"))
    runner_server.serve("127.0.0.1", 0, "warning")
    assert [options["timeout_keep_alive"] for options in asked] == [APP_KEEP_ALIVE_SECONDS] * 2
