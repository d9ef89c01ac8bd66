"""Repository secrets through the real run-api on real PostgreSQL: write-only, sealed,
bounded by the operator's places, refused for names the runner owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.environment import secret_context
from dursor_kit.crypto import Sealed
from dursor_store.schema import repo_secrets
from tests.support.run_api_app import RunApi, bearer, run_api

DEV = bearer("developer", "dev")
VIEWER = bearer("viewer", "watcher")
VALUE = "npm_s3cr3t-value-for-tests"


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api on a fresh database; the operator allows secrets in setup and the agent."""
    async with run_api(engine, tmp_path, secret_injection_places=["setup", "agent"]) as app:
        yield app


async def new_repo(api: RunApi) -> str:
    created = await api.client.post("/v1/repos", json={"url": "file:///srv/repo"}, headers=DEV)
    assert created.status_code == 201, created.text
    repo_id: str = created.json()["id"]
    return repo_id


async def test_a_secret_is_sealed_listed_by_name_and_place_and_never_shown(api: RunApi) -> None:
    repo_id = await new_repo(api)
    path = f"/v1/repos/{repo_id}/secrets/NPM_TOKEN"

    put = await api.client.put(
        path, json={"value": VALUE, "inject_into": ["setup", "agent"]}, headers=DEV
    )
    listed = await api.client.get(f"/v1/repos/{repo_id}/secrets", headers=VIEWER)

    assert put.status_code == 200, put.text
    assert VALUE not in put.text
    assert put.json()["inject_into"] == ["setup", "agent"]
    assert listed.status_code == 200
    assert VALUE not in listed.text
    body: dict[str, Any] = listed.json()
    assert [(s["name"], s["inject_into"]) for s in body["items"]] == [
        ("NPM_TOKEN", ["setup", "agent"])
    ]
    assert body["allowed_places"] == ["setup", "agent"]
    async with api.engine.connect() as conn:
        row = (await conn.execute(select(repo_secrets))).one()
    assert VALUE.encode() not in row.key_ciphertext
    sealed = Sealed(row.key_id, row.key_nonce, row.key_ciphertext)
    assert api.ring.open(sealed, secret_context(row.repo_id, "NPM_TOKEN")) == VALUE
    with pytest.raises(InvalidTag):  # sealed to its row: another name does not open it
        api.ring.open(sealed, secret_context(row.repo_id, "OTHER"))

    replaced = await api.client.put(
        path, json={"value": "v2", "inject_into": ["setup"]}, headers=DEV
    )
    assert replaced.json()["inject_into"] == ["setup"]
    deleted = await api.client.delete(path, headers=DEV)
    assert deleted.status_code == 204
    again = await api.client.delete(path, headers=DEV)
    assert again.status_code == 404
    assert (await api.client.get(f"/v1/repos/{repo_id}/secrets", headers=VIEWER)).json()[
        "items"
    ] == []


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("PATH", {"value": "x", "inject_into": ["setup"]}, 422, "name"),
        ("DAPR_API_TOKEN", {"value": "x", "inject_into": ["setup"]}, 422, "name"),
        ("DURSOR_ENV", {"value": "x", "inject_into": ["setup"]}, 422, "name"),
        ("LD_PRELOAD", {"value": "x", "inject_into": ["setup"]}, 422, "name"),
        ("OK_NAME", {"value": "x", "inject_into": ["verify"]}, 422, "inject_into"),
        ("OK_NAME", {"value": "x", "inject_into": []}, 422, "inject_into"),
        ("OK_NAME", {"value": "x", "inject_into": ["setup", "setup"]}, 422, "inject_into"),
        ("OK_NAME", {"value": "", "inject_into": ["setup"]}, 422, "value"),
        ("OK_NAME", {"value": "x", "inject_into": ["setup"], "extra": 1}, 422, "extra"),
        ("1BAD", {"value": "x", "inject_into": ["setup"]}, 422, "name"),
    ],
)
async def test_bad_secrets_get_a_problem_and_change_nothing(
    api: RunApi, name: str, body: dict[str, Any], status: int, field: str
) -> None:
    repo_id = await new_repo(api)

    answer = await api.client.put(f"/v1/repos/{repo_id}/secrets/{name}", json=body, headers=DEV)

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in answer.text
    async with api.engine.connect() as conn:
        assert (await conn.execute(select(repo_secrets))).all() == []


async def test_viewers_cannot_write_and_unknown_repositories_are_404(api: RunApi) -> None:
    repo_id = await new_repo(api)
    body = {"value": VALUE, "inject_into": ["setup"]}

    refused = await api.client.put(f"/v1/repos/{repo_id}/secrets/A", json=body, headers=VIEWER)
    unknown = await api.client.put(
        "/v1/repos/00000000-0000-0000-0000-000000000001/secrets/A", json=body, headers=DEV
    )
    listed = await api.client.get(
        "/v1/repos/00000000-0000-0000-0000-000000000001/secrets", headers=VIEWER
    )

    assert refused.status_code == 403
    assert (unknown.status_code, listed.status_code) == (404, 404)
