"""infra/scripts: valid bash, and the secrets deploy.sh seeds are the ones the code reads."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from tree_sitter import Tree

from dursor_kit.local_secrets import GENERATORS
from dursor_kit.secret_names import ALL_SECRETS

from .bicep_tree import string_list, text, variables
from .conftest import INFRA, REPO, relative

SCRIPTS = sorted((INFRA / "scripts").glob("*.sh"))
DEPLOY = INFRA / "scripts/deploy.sh"


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


def test_deploy_seeds_the_secrets_key_vault_holds(template: dict[str, Tree]) -> None:
    """deploy.sh writes exactly keyvault.bicep's secrets, all of them names the code reads."""
    azure = bash_array(DEPLOY, "AZURE_SECRETS")
    assert azure == set(
        string_list(variables(template["keyvault"])["applicationSecretNames"]) or []
    )
    assert azure <= set(ALL_SECRETS)


def test_deploy_generates_what_the_bootstrap_generates() -> None:
    """Azure gets a generated value for each of its secrets a laptop gets one for."""
    azure = bash_array(DEPLOY, "AZURE_SECRETS")
    assert bash_array(DEPLOY, "GENERATED") == set(GENERATORS) & azure
    assert azure - set(GENERATORS) == {"github-app-id", "github-app-private-key"}


def test_deploy_builds_every_image_the_apps_run(template: dict[str, Tree]) -> None:
    """One image per app the templates deploy, each from a Dockerfile path of the repository."""
    images = {entry.split(":")[0]: entry.split(":")[1] for entry in bash_array(DEPLOY, "IMAGES")}
    deployed = set(
        re.findall(
            r"imageOf\(registryServer, '([a-z-]+)'", text(template["container-apps"].root_node)
        )
    )
    assert set(images) == deployed == {"events-gateway", "run-api", "agent-runner", "auth", "web"}
    for image, dockerfile in images.items():
        if image != "web":  # web/ is the web UI's own tree (its Dockerfile ships with it)
            assert (REPO / dockerfile).is_file(), dockerfile


def test_migration_runs_alembic_head_then_the_logins() -> None:
    """Both ways of migrating bring the schema to head; in Azure the logins follow."""
    script = (INFRA / "scripts/migrate-db.sh").read_text()
    job = (INFRA / "modules/migrate-job.bicep").read_text()
    assert "alembic upgrade head" in script
    init = job.index("initContainers:")
    main = job.index("containers:", init + len("initContainers:"))
    alembic = r"command: \[\s*'alembic'\s*\]\s*args: \[\s*'upgrade'\s*'head'\s*\]"
    assert re.search(alembic, job[init:main])
    assert re.search(r"'-m'\s*'dursor_kit.entra_logins'", job[main:])
