"""Key rotation reseals everything the ring seals: model keys, repository and webhook secrets.

A rotation that left a table under the old key would turn its values unreadable the
moment the operator removes that key, as the command's report invites once it shows no
row under it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.environment import secret_context
from dursor_kit.crypto import EncryptionKeyRing, Sealed
from dursor_store.schema import repo_secrets, webhook_endpoints
from run_api.webhooks import repository as webhooks_sql
from run_api.webhooks.service import sealing_context as endpoint_context
from tests.run_api.model_profiles.integration.test_run_api_model_profiles import (
    OLD_RING,
    SECRET,
    create,
    ring_document,
    rotate,
    runner_key,
)
from tests.support.run_api_app import RunApi, bearer, run_api

DEV = bearer("developer", "dev")
REPO_SECRET = "npm_rotation-" + "x7" * 10
HOOK_SECRET = "whsec_" + "Q" * 43


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api sealing with the old ring."""
    async with run_api(engine, tmp_path, ring=EncryptionKeyRing.from_json(OLD_RING)) as app:
        yield app


async def repo_with_secret(api: RunApi) -> UUID:
    """A repository holding one secret, put through the API."""
    repo = await api.client.post("/v1/repos", json={"url": "file:///srv/rotate"}, headers=DEV)
    repo_id = repo.json()["id"]
    body = {"value": REPO_SECRET, "inject_into": ["setup"]}
    put = await api.client.put(f"/v1/repos/{repo_id}/secrets/NPM_TOKEN", json=body, headers=DEV)
    assert put.status_code == 200, put.text
    return UUID(repo_id)


async def endpoint_with_secret(api: RunApi) -> UUID:
    """A webhook endpoint whose signing secret the ring sealed (the route's own SQL)."""
    endpoint_id = uuid4()
    sealed = api.ring.seal(HOOK_SECRET, endpoint_context(endpoint_id))
    async with api.engine.begin() as conn:
        await webhooks_sql.insert_endpoint(
            conn, endpoint_id, "https://hooks.example/x", ["run.finished"], sealed, "boss"
        )
    return endpoint_id


async def test_rotation_reseals_model_keys_repository_secrets_and_webhook_secrets(
    api: RunApi, tmp_path: Path
) -> None:
    profile = await create(api)
    repo_id = await repo_with_secret(api)
    endpoint_id = await endpoint_with_secret(api)
    rotated = ring_document("k-new", "k-new", keys=json.loads(OLD_RING)["keys"])
    ring_file = tmp_path / "ring.json"
    ring_file.write_text(rotated)

    result = await asyncio.to_thread(rotate, api.engine, "--keyring-file", str(ring_file))

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["resealed"], report["unreadable"]) == (3, [])
    assert report["rows_by_key"] == {"k-new": 3}
    for table in ("model_profiles", "repo_secrets", "webhook_endpoints"):
        assert report["tables"][table]["resealed"] == 1
        assert report["tables"][table]["rows_by_key"] == {"k-new": 1}
    kept = new_only_document(rotated)
    new_only = EncryptionKeyRing.from_json(kept)
    async with api.engine.connect() as conn:
        secret = (await conn.execute(select(repo_secrets))).one()
        hook = (await conn.execute(select(webhook_endpoints))).one()
    secret_sealed = Sealed(secret.key_id, secret.key_nonce, secret.key_ciphertext)
    hook_sealed = Sealed(hook.secret_key_id, hook.secret_nonce, hook.secret_ciphertext)
    assert new_only.open(secret_sealed, secret_context(repo_id, "NPM_TOKEN")) == REPO_SECRET
    assert new_only.open(hook_sealed, endpoint_context(endpoint_id)) == HOOK_SECRET
    assert await runner_key(api.engine, kept, profile["id"]) == SECRET
    for value in (SECRET, REPO_SECRET, HOOK_SECRET):
        assert value not in result.stdout + result.stderr


def new_only_document(rotated: str) -> str:
    """The rotated ring without the old key: what the operator keeps after the rotation."""
    return ring_document("k-new", keys={"k-new": json.loads(rotated)["keys"]["k-new"]})
