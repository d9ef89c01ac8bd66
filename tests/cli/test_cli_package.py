"""The `dursor-cli` package on its own: the wheel, ports, executor specs, help, completion."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from dursor_cli.errors import CliError, ExitCode
from dursor_cli.executors import parse_executor
from dursor_cli.platform import APPS, SENTRY_PORT, WEB_PORT
from tests.cli.cli_runner import Dursor

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_a_working_dursor(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is installed by the bootstrap"
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), "cli"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dursor_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dursor_cli/schemas/output.schema.json" in names
    assert not [n for n in names if n.startswith(("tests/", "services/"))]
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, capture_output=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
    )
    shown = subprocess.run(
        [str(venv / "bin" / "dursor"), "--help"], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "dursor: run several AI coding agents" in shown.stdout


def test_the_platform_ports_are_those_of_dapr_yaml_and_run_sh() -> None:
    run_file = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    declared = {
        (a["appID"], a["appPort"], a["daprHTTPPort"], a["daprGRPCPort"]) for a in run_file["apps"]
    }
    assert set(APPS) == declared
    script = (ROOT / "scripts" / "platform.sh").read_text()
    sentry = re.search(r"^SENTRY_PORT=(\d+)$", script, re.MULTILINE)
    listed = re.search(r"PLATFORM_PORTS=\(([^)]+)\)", script)
    assert sentry is not None
    assert listed is not None
    words = listed.group(1).replace('"$SENTRY_PORT"', sentry.group(1)).split()
    expected = {p for app in APPS for p in app[1:]} | {SENTRY_PORT, WEB_PORT}
    assert {int(p) for p in words} == expected


def test_no_platform_port_is_one_an_outgoing_connection_may_hold() -> None:
    # Linux hands out 32768-60999 as the local ports of outgoing connections; a fixed
    # port there can be taken by any program's connection the moment run.sh starts.
    ports = {p for app in APPS for p in app[1:]} | {SENTRY_PORT, WEB_PORT}
    assert max(ports) < 32768


@pytest.mark.parametrize(
    ("spec", "executor"),
    [
        ("claude_code", {"type": "claude_code"}),
        ("codex:gpt-5-codex", {"type": "codex", "model": "gpt-5-codex"}),
        (
            "llm:gpt-4.1,profile=1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11,max_tokens=2048",
            {
                "type": "llm",
                "model": "gpt-4.1",
                "model_profile_id": "1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
                "options": {"max_tokens": 2048},
            },
        ),
        (
            "command,template=append-note",
            {"type": "command", "options": {"template": "append-note"}},
        ),
    ],
)
def test_executor_specs(spec: str, executor: dict[str, object]) -> None:
    assert parse_executor(spec) == executor


@pytest.mark.parametrize("spec", ["", "gpt", "codex,sandbox", "command,=x"])
def test_malformed_executor_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(CliError) as raised:
        parse_executor(spec)
    assert raised.value.code is ExitCode.USAGE


HELPED = [
    ["login"],
    ["logout"],
    ["whoami"],
    ["repo", "add"],
    ["repo", "list"],
    ["task", "new"],
    ["task", "list"],
    ["task", "show"],
    ["run"],
    ["follow-up"],
    ["cancel"],
    ["tail"],
    ["status"],
    ["diff"],
    ["apply"],
    ["pr"],
    ["up"],
    ["down"],
    ["wait-ready"],
    ["compare"],
    ["usage"],
]


@pytest.mark.parametrize("command", HELPED, ids=" ".join)
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    from typer.testing import CliRunner

    from dursor_cli.main import app

    shown = CliRunner().invoke(
        app, [*command, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "Examples" in shown.output
    assert f"dursor {' '.join(command)}" in shown.output


async def test_shell_completion(tmp_path: Path) -> None:
    dursor = Dursor(tmp_path, "http://127.0.0.1:9")
    script = await asyncio.to_thread(dursor, "--show-completion", "bash")
    assert "_DURSOR_COMPLETE" in script.stdout
    offered = await asyncio.to_thread(
        dursor,
        env={"_DURSOR_COMPLETE": "complete_bash", "COMP_WORDS": "dursor ta", "COMP_CWORD": "1"},
    )
    assert set(offered.stdout.split()) == {"tail", "task"}


def test_the_documented_shapes_use_the_apis_enums() -> None:
    """Criteria, cost sources and usage scopes of the --json shapes are the OpenAPI's own."""
    from dursor_cli.usage_view import criteria

    api = json.loads((ROOT / "docs" / "openapi.json").read_text())["components"]["schemas"]
    defs = json.loads((ROOT / "cli" / "dursor_cli" / "schemas" / "output.schema.json").read_text())
    shapes = defs["$defs"]
    assert list(criteria()) == api["ComparisonOut"]["properties"]["rule"]["items"]["enum"]
    assert (
        shapes["turn_usage"]["properties"]["cost_source"]["enum"]
        == api["TurnUsageOut"]["properties"]["cost_source"]["enum"]
    )
    assert (
        shapes["scope_usage"]["properties"]["scope"]["enum"]
        == api["ScopeUsageOut"]["properties"]["scope"]["enum"]
    )
    assert (
        shapes["comparison"]["properties"]["runs"]["items"]["properties"]["status"]
        == (shapes["run"]["properties"]["status"])
    )


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (None, "-"),
        (0, "$0.00"),
        (0.0012, "$0.0012"),
        (1.5, "$1.50"),
        (0.1234, "$0.1234"),
        (123.456, "$123.46"),
    ],
)
def test_costs_read_as_dollars(amount: float | None, shown: str) -> None:
    from dursor_cli.usage_view import usd

    assert usd(amount) == shown
