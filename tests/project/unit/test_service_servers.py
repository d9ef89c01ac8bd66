"""Every service is served by uvicorn with the httptools parser, and on uvloop, however it starts.

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
