"""infra/scripts: valid bash, and the secrets deploy.sh seeds are the ones the code reads."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from dursor_contracts.local_secrets import GENERATORS
from dursor_contracts.secret_names import ALL_SECRETS

from .conftest import INFRA, relative

SCRIPTS = sorted((INFRA / "scripts").glob("*.sh"))


def bash_array(script: Path, name: str) -> set[str]:
    """Words of a `NAME=(...)` array assignment in a bash script."""
    match = re.search(rf"^{name}=\(([^)]*)\)", script.read_text(), re.MULTILINE)
    assert match is not None, f"{name} not found in {script.name}"
    return set(match[1].split())


@pytest.mark.parametrize("script", SCRIPTS, ids=relative)
def test_script_is_executable_bash(script: Path) -> None:
    """`bash -n` accepts it and it can be run directly."""
    assert os.access(script, os.X_OK)
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_deploy_generates_every_secret_the_bootstrap_generates() -> None:
    """Azure gets a value for each secret a laptop gets one for."""
    assert bash_array(INFRA / "scripts/deploy.sh", "GENERATED") == set(GENERATORS)


def test_deploy_checks_the_secret_names_of_the_code() -> None:
    """The list of required secrets comes from dursor_contracts, not from a copy."""
    source = (INFRA / "scripts/deploy.sh").read_text()
    assert "from dursor_contracts.secret_names import ALL_SECRETS" in source
    not_generated = set(ALL_SECRETS) - set(GENERATORS)
    assert not_generated == {
        "postgresql-connection-string",
        "github-app-id",
        "github-app-private-key",
    }


def test_migration_runs_alembic_head() -> None:
    """Both ways of migrating bring the schema to the newest revision."""
    script = (INFRA / "scripts/migrate-db.sh").read_text()
    job = (INFRA / "modules/migrate-job.bicep").read_text()
    assert "alembic upgrade head" in script
    assert re.search(r"command: \[\s*'alembic'\s*\]\s*args: \[\s*'upgrade'\s*'head'\s*\]", job)
