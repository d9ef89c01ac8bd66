"""Run the real `dursor` command in a subprocess, as a terminal user or a CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

SCHEMA = (
    Path(__file__).resolve().parents[2] / "cli" / "dursor_cli" / "schemas" / "output.schema.json"
)


@dataclass
class Result:
    """What one invocation printed and exited with."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        """stdout as one JSON document."""
        return json.loads(self.stdout)

    @property
    def json_lines(self) -> list[Any]:
        """stdout as JSON Lines."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class Dursor:
    """Invokes `python -m dursor_cli` with a private config directory and a gateway."""

    home: Path
    gateway: str
    env: dict[str, str] = field(default_factory=dict)

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The CLI's environment: no inherited DURSOR_* and a config dir of its own."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DURSOR_", "PYTHON_KEY"))}
        return (
            base
            | {
                "XDG_CONFIG_HOME": str(self.home / "config"),
                "XDG_DATA_HOME": str(self.home / "data"),
                "DURSOR_GATEWAY": self.gateway,
                "DURSOR_CREDENTIAL_STORE": "auto",
            }
            | self.env
            | (extra or {})
        )

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 180,
    ) -> Result:
        """Run `dursor ARGS…` to its end."""
        done = subprocess.run(
            [sys.executable, "-m", "dursor_cli", *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=self.environment(env),
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start `dursor ARGS…` and return at once (stdout and stderr piped)."""
        return subprocess.Popen(
            [sys.executable, "-m", "dursor_cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environment(env),
        )


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    return loaded


def assert_shape(document: Any, name: str) -> None:
    """`document` matches the documented `--json` shape `name` (a $defs entry)."""
    schema = _schema() | {"$ref": f"#/$defs/{name}"}
    errors = [str(e) for e in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, f"{name}: {errors}"
