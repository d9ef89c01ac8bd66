"""Local (file://) repositories must lie under the operator's root, symlinks followed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.run_api_app import bearer, run_api

DEV = bearer("developer", "dev")
VIEWER = bearer("viewer", "watcher")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with one repository inside, and symlinks leading in and out of it."""
    root = tmp_path / "repos"
    (root / "inside").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "alias").symlink_to(root / "inside")
    return root


async def test_only_paths_under_the_root_are_accepted(
    engine: AsyncEngine, tmp_path: Path, root: Path
) -> None:
    refused = [
        "file:///etc",
        f"file://{root}/../outside",
        f"file://{root}/%2e%2e/outside",
        f"file://{root}/escape",
        f"file://{root}/escape/deeper",
        f"file://{root}-sibling/x",
    ]
    async with run_api(engine, tmp_path, local_repos_root=str(root)) as api:
        answers = {
            url: await api.client.post("/v1/repos", json={"url": url}, headers=DEV)
            for url in refused
        }
        listed_after_refusals = (await api.client.get("/v1/repos", headers=VIEWER)).json()
        inside = await api.client.post(
            "/v1/repos", json={"url": f"file://{root}/inside/"}, headers=DEV
        )
        alias = await api.client.post(
            "/v1/repos", json={"url": f"file://{root}/alias"}, headers=DEV
        )
    assert {url: r.status_code for url, r in answers.items()} == dict.fromkeys(refused, 422)
    assert all(r.json()["type"].endswith("repo-outside-local-root") for r in answers.values())
    assert listed_after_refusals["items"] == []
    assert inside.status_code == 201
    assert inside.json()["url"] == (root / "inside").resolve().as_uri()
    # A symlink inside the root is stored as where it leads: the same repository again.
    assert alias.status_code == 409


async def test_without_a_root_no_local_repository_is_accepted(
    engine: AsyncEngine, tmp_path: Path, root: Path
) -> None:
    async with run_api(engine, tmp_path, local_repos_root=None) as api:
        response = await api.client.post(
            "/v1/repos", json={"url": f"file://{root}/inside"}, headers=DEV
        )
    assert response.status_code == 400
    assert response.json()["detail"] == "file:// repositories are local mode only"
