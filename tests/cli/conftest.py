"""A platform with a GitHub stand-in, shared by the CLI tests of a module, and a `dursor`."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dursor_kit.secret_names import GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY
from tests.cli.cli_runner import Dursor
from tests.conftest import running_platform
from tests.e2e.test_pull_request_flow import app_key_pair, serve
from tests.standins.github_repos import GitHubRepos
from tests.support.backing import free_port
from tests.support.git_remote import make_remote
from tests.support.platform import Platform

GITHUB_REPO = "acme/widgets"
FAST_LOGS = {"DURSOR_LOG_BATCH_SECONDS": "0.05"}


@dataclass
class World:
    """The platform, the GitHub stand-in and two repositories runs can use."""

    platform: Platform
    github: GitHubRepos
    github_url: str
    local_url: str
    root: Path

    def dursor(self, home: Path, role: str | None = "developer") -> Dursor:
        """A CLI with a private config dir; with a token of `role` unless None."""
        env = {"DURSOR_TOKEN": self.platform.mint_token(role)} if role else {}
        return Dursor(home, self.platform.gateway.url, env)


@pytest.fixture(scope="module")
async def world(
    backing: Any, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """Four services pointed at a GitHub stand-in (GHES layout), shared by a module."""
    root = tmp_path_factory.mktemp("cli")
    private_key, public_key = app_key_pair()
    port = free_port()
    github = GitHubRepos(root / "github", app_public_key=public_key, installations={GITHUB_REPO: 7})
    (root / "github" / "acme").mkdir(parents=True)
    shutil.move(str(make_remote(root / "seed")), github.repo_path(GITHUB_REPO))
    (root / "platform").mkdir()
    host = f"127.0.0.1:{port}"
    env = FAST_LOGS | {
        "DURSOR_GITHUB_API_URL": f"http://{host}/api/v3",
        "DURSOR_GITHUB_HOSTS": json.dumps([host]),
        "DURSOR_INSECURE_REPO_HOSTS": json.dumps([host]),
    }
    async with (
        serve(github.app(), port),
        running_platform(backing, databases, root / "platform", env, start=False) as platform,
    ):
        platform.add_secrets({GITHUB_APP_ID: "4242", GITHUB_APP_PRIVATE_KEY: private_key})
        await platform.start_all()
        local = make_remote(root / "local")
        yield World(platform, github, f"http://{host}/{GITHUB_REPO}.git", f"file://{local}", root)
