"""`dursor up`, `dursor down`, `dursor status --platform`: the local platform."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from dursor_cli.errors import ExitCode
from dursor_cli.output import table
from dursor_cli.platform import Health, check_all, repository_root, wait_ready
from dursor_cli.session import JsonFlag, output_of

Root = Annotated[
    Path | None, typer.Option("--root", help="The dursor checkout (default: found from here).")
]


def up(root: Root = None) -> None:
    """Start the local platform in the background and wait until it is ready.

    Runs `scripts/run.sh --detach`: bootstrap, Sentry, the four apps behind their sidecars;
    logs go to .data/platform.log. `dursor down` stops it.

    Examples:

        dursor up

        dursor up && dursor login --username admin
    """
    checkout = repository_root(root)
    code = subprocess.call(["bash", "scripts/run.sh", "--detach"], cwd=checkout)
    raise typer.Exit(code)


def down(root: Root = None) -> None:
    """Stop the local platform (what `dursor up` or `scripts/run.sh` started).

    Examples:

        dursor down
    """
    checkout = repository_root(root)
    code = subprocess.call(["bash", "scripts/stop.sh"], cwd=checkout)
    raise typer.Exit(code)


def platform_status(as_json: bool, wait: float | None) -> None:
    """Print each app's and sidecar's health and ports; exit 1 unless all are healthy."""
    out = output_of(as_json)
    results = wait_ready(wait) if wait else check_all()
    ready = all(h.healthy for h in results)
    if out.as_json:
        out.json({"ready": ready, "components": [h.to_json() for h in results]})
    else:
        out.console.print(_health_table(results))
    if not ready:
        raise typer.Exit(ExitCode.FAILED)


def _health_table(results: list[Health]) -> Table:
    rows = table(["COMPONENT", "KIND", "PORT", "STATE", "DETAIL"], [])
    for health in results:
        mark = Text("✔ healthy", style="green") if health.healthy else Text("✘ down", style="red")
        probe = health.probe
        rows.add_row(probe.name, probe.kind, str(probe.port), mark, health.detail)
    return rows


def wait_for_platform(
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait.")] = 180,
    as_json: JsonFlag = False,
) -> None:
    """Wait until every app and sidecar of the local platform is ready.

    Examples:

        dursor wait-ready --timeout 120
    """
    platform_status(as_json, wait=timeout)


def register(app: typer.Typer) -> None:
    """Add the commands of this module."""
    app.command()(up)
    app.command()(down)
    app.command("wait-ready")(wait_for_platform)
