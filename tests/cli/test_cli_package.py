"""The `dursor-cli` package on its own: the wheel, its ports, its executor specs."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from dursor_cli.errors import CliError, ExitCode
from dursor_cli.executors import parse_executor
from dursor_cli.platform import APPS, SENTRY_PORT

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
    listed = re.search(r"PLATFORM_PORTS=\(([\d ]+)\)", script)
    assert listed is not None
    expected = {p for app in APPS for p in app[1:]} | {SENTRY_PORT}
    assert {int(p) for p in listed.group(1).split()} == expected


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
