"""Which way imports may run (docs/architecture.md): the import-linter contracts hold.

contracts <- kit <- store <- services; services never import one another; no package has
an import loop between its modules; agent-runner's and the gateway's rooms import only
downwards. The same contracts are shown to catch each kind of break on a throwaway set of
packages with the same names.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SERVICES = ("run_api", "agent_runner", "auth_service", "events_gateway", "dursor_cli")
LAYERS = ("dursor_store", "dursor_kit", "dursor_contracts")


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts."""
    env = dict(os.environ)
    if pythonpath is not None:  # put these packages ahead of the installed ones
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONTRACTS)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_code_keeps_every_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_every_python_package_of_the_project_is_under_the_contracts() -> None:
    packages = {
        p.parent.name
        for p in [*ROOT.glob("services/*/*/__init__.py"), *ROOT.glob("cli/*/__init__.py")]
    }
    assert packages == {*SERVICES, *LAYERS}
    listed = CONTRACTS.read_text()
    assert all(f"\n    {name}\n" in listed for name in packages)


def write_package(root: Path, name: str, *imports: str) -> None:
    """A package whose modules import what is given (`module: imported`)."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for entry in imports:
        module, imported = entry.split(": ")
        (package / f"{module}.py").write_text(f"import {imported}\n")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> str:
    """import-linter's report on packages that break each contract once."""
    root = tmp_path_factory.mktemp("broken")
    write_package(root, "dursor_contracts", "payloads: dursor_kit")  # a layer imports upwards
    write_package(root, "dursor_kit", "db: dursor_contracts")
    write_package(root, "dursor_store", "runs: dursor_kit")
    write_package(root, "run_api", "calls: agent_runner.worker")  # a service imports another
    loop = ("worker: agent_runner.leases", "leases: agent_runner.worker")  # an import loop
    rooms = ("app: agent_runner.worker", "runs: agent_runner.agents", "git: dursor_contracts")
    upwards = "agents: agent_runner.pull_requests"  # a lower room imports a higher one
    below = ("pull_requests: agent_runner.git", "settings: dursor_kit", "metrics: dursor_kit")
    write_package(root, "agent_runner", *loop, *rooms, upwards, *below)
    doors = ("server: events_gateway.app", "streams: events_gateway.metrics")
    sideways = "edge: events_gateway.webhooks"  # the edge imports a room above it
    lowest = ("webhooks: events_gateway.settings", "settings: dursor_kit", "metrics: dursor_kit")
    write_package(root, "events_gateway", "app: dursor_store", *doors, sideways, *lowest)
    for name in ("auth_service", "dursor_cli"):
        write_package(root, name, "app: dursor_store")
    result = lint_imports(root, pythonpath=root)
    assert result.returncode != 0
    return result.stdout


@pytest.mark.parametrize(
    "contract",
    [
        "Layers: services -> store -> kit -> contracts, never upwards BROKEN",
        "Services never import each other BROKEN",
        "No import loop between the modules of any package BROKEN",
        "agent-runner rooms: runs and pull requests over agents over git BROKEN",
        "events-gateway rooms: streams and webhooks over the edge BROKEN",
    ],
)
def test_each_contract_catches_its_break(broken: str, contract: str) -> None:
    assert contract in broken
