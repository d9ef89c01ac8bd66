"""Model credentials: sealed at rest, never shown or logged, and rotatable by a command."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.agents.credentials import ModelProfileCredentials
from dursor_contracts.executors import LlmExecutor
from dursor_kit.crypto import EncryptionKeyRing
from dursor_store.schema import model_profiles
from run_api.keyring import RefreshingKeyRing
from run_api.model_profiles.service import ModelProfiles
from tests.support.run_api_app import RunApi, bearer, run_api

ROOT = Path(__file__).resolve().parents[4]
ADMIN = bearer("admin", "boss")
VIEWER = bearer("viewer", "watcher")
DEV = bearer("developer", "dev")
SECRET = "sk-live-" + "Zq8" * 12  # recognisable anywhere it might leak


def ring_document(primary: str, *key_ids: str, keys: dict[str, str] | None = None) -> str:
    """A ring document with fresh keys (or the given ones) under these ids."""
    keys = dict(keys or {})
    for key_id in key_ids:
        keys.setdefault(key_id, base64.b64encode(secrets.token_bytes(32)).decode())
    return json.dumps({"primary": primary, "keys": keys})


OLD_RING = ring_document("k-old", "k-old")


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api sealing with the old ring."""
    async with run_api(engine, tmp_path, ring=EncryptionKeyRing.from_json(OLD_RING)) as app:
        yield app


async def create(api: RunApi, name: str = "team", key: str = SECRET) -> dict[str, Any]:
    """A profile through the API."""
    body = {"name": name, "provider": "anthropic", "model": "claude-x", "api_key": key}
    response = await api.client.post("/v1/model-profiles", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored(api: RunApi, profile_id: str) -> Any:
    """The profile's row as the database holds it."""
    async with api.engine.connect() as conn:
        return (
            await conn.execute(select(model_profiles).where(model_profiles.c.id == profile_id))
        ).one()


async def runner_key(engine: AsyncEngine, ring: str, profile_id: str) -> str | None:
    """What agent-runner decrypts for a run that names this profile."""
    credentials = ModelProfileCredentials(engine, EncryptionKeyRing.from_json(ring))

    class Run:
        executor = LlmExecutor(type="llm", model_profile_id=UUID(profile_id))

    credential = await credentials.for_run(Run())  # type: ignore[arg-type]
    return None if credential is None else credential.api_key.get_secret_value()


async def test_the_key_is_sealed_in_the_table_and_agent_runner_can_open_it(api: RunApi) -> None:
    profile = await create(api)
    row = await stored(api, profile["id"])

    assert row.key_id == profile["encryption_key_id"] == "k-old"
    assert len(row.key_nonce) == 12
    assert SECRET.encode() not in row.key_ciphertext
    assert row.key_ciphertext != SECRET.encode()
    assert len(row.key_ciphertext) == len(SECRET) + 16  # AES-GCM: same length plus the tag
    assert await runner_key(api.engine, OLD_RING, profile["id"]) == SECRET


async def test_a_ciphertext_moved_to_another_row_does_not_open(api: RunApi) -> None:
    victim, other = await create(api, "victim"), await create(api, "other", "sk-other-key")
    async with api.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE model_profiles SET key_nonce = v.key_nonce, "
                "key_ciphertext = v.key_ciphertext FROM model_profiles v "
                "WHERE v.id = :victim AND model_profiles.id = :other"
            ),
            {"victim": victim["id"], "other": other["id"]},
        )
    with pytest.raises(InvalidTag):
        await runner_key(api.engine, OLD_RING, other["id"])


async def test_the_key_is_in_no_response_and_no_log(
    api: RunApi, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    profile = await create(api)
    bad_body = {"name": "", "provider": "openai", "model": "m", "api_key": SECRET}
    answers = [
        await api.client.post("/v1/model-profiles", json=bad_body, headers=ADMIN),
        await api.client.post("/v1/model-profiles", json=bad_body | {"name": "x"}, headers=VIEWER),
        await api.client.get(f"/v1/model-profiles/{profile['id']}", headers=VIEWER),
        await api.client.get("/v1/model-profiles", headers=VIEWER),
        await api.client.get("/openapi.json"),
    ]
    await api.client.delete(f"/v1/model-profiles/{profile['id']}", headers=ADMIN)

    assert [a.status_code for a in answers] == [422, 403, 200, 200, 200]
    assert SECRET not in json.dumps(profile)
    for answer in answers:
        assert SECRET not in answer.text
        assert "Zq8Zq8" not in answer.text
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "model profile created" in logged  # the logs were captured, and say what happened
    assert "Zq8Zq8" not in logged


async def test_the_app_picks_up_a_new_primary_key_when_the_ring_is_re_read(
    api: RunApi,
) -> None:
    documents = [OLD_RING, ring_document("k-new", "k-new", keys=json.loads(OLD_RING)["keys"])]

    async def read() -> str:
        return documents[0]

    api.app.state.model_profiles = ModelProfiles(RefreshingKeyRing(read, 0.05))
    before = await create(api, "before")
    documents.pop(0)
    await asyncio.sleep(0.1)
    after = await create(api, "after")
    assert (before["encryption_key_id"], after["encryption_key_id"]) == ("k-old", "k-new")


def rotate(
    engine: AsyncEngine, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the rotation command against the test database."""
    url = engine.url.render_as_string(hide_password=False)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DURSOR_", "DAPR_"))}
    return subprocess.run(
        [sys.executable, "-m", "run_api.rotate_keys", *args],
        cwd=ROOT,
        env=clean | {"DURSOR_DATABASE_URL": url} | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_rotation_reseals_every_row_under_the_new_primary(
    api: RunApi, tmp_path: Path
) -> None:
    keys = {f"p{i}": f"sk-key-number-{i}" for i in range(5)}
    profiles = {name: await create(api, name, key) for name, key in keys.items()}
    await api.client.delete(f"/v1/model-profiles/{profiles['p4']['id']}", headers=ADMIN)
    rotated = ring_document("k-new", "k-new", keys=json.loads(OLD_RING)["keys"])
    ring_file = tmp_path / "ring.json"
    ring_file.write_text(rotated)
    old_rows = {name: await stored(api, p["id"]) for name, p in profiles.items()}

    dry = await asyncio.to_thread(rotate, api.engine, "--keyring-file", str(ring_file), "--dry-run")
    assert json.loads(dry.stdout)["rows_by_key"] == {"k-old": 5}
    result = await asyncio.to_thread(
        rotate, api.engine, "--keyring-file", str(ring_file), "--batch-size", "2"
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["resealed"], report["unreadable"]) == (5, [])
    assert report["rows_by_key"] == {"k-new": 5}
    new_only = ring_document("k-new", keys={"k-new": json.loads(rotated)["keys"]["k-new"]})
    for name, profile in profiles.items():
        row = await stored(api, profile["id"])
        assert row.key_ciphertext != old_rows[name].key_ciphertext
        if name != "p4":  # deleted profiles are resealed too, but no run may open them
            assert await runner_key(api.engine, new_only, profile["id"]) == keys[name]
    for key in keys.values():
        assert key not in result.stdout + result.stderr


async def test_rotation_reads_the_ring_from_the_environment_and_is_repeatable(
    api: RunApi,
) -> None:
    await create(api)
    rotated = ring_document("k-new", "k-new", keys=json.loads(OLD_RING)["keys"])
    first = await asyncio.to_thread(rotate, api.engine, env={"DURSOR_ENCRYPTION_KEYS": rotated})
    second = await asyncio.to_thread(rotate, api.engine, env={"DURSOR_ENCRYPTION_KEYS": rotated})
    assert json.loads(first.stdout)["resealed"] == 1
    assert json.loads(second.stdout)["resealed"] == 0
    assert second.returncode == 0


async def test_rotation_reports_rows_it_cannot_open_and_fails(api: RunApi, tmp_path: Path) -> None:
    readable = await create(api, "readable")
    lost = await create(api, "lost")
    async with api.engine.begin() as conn:
        await conn.execute(
            text("UPDATE model_profiles SET key_id = 'k-gone' WHERE id = :id"), {"id": lost["id"]}
        )
    rotated = ring_document("k-new", "k-new", keys=json.loads(OLD_RING)["keys"])
    result = await asyncio.to_thread(rotate, api.engine, env={"DURSOR_ENCRYPTION_KEYS": rotated})
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["unreadable"] == [f"model_profiles:{lost['id']}"]
    assert report["tables"]["model_profiles"]["unreadable"] == [lost["id"]]
    assert report["resealed"] == 1
    assert (await stored(api, readable["id"])).key_id == "k-new"


# The routes themselves


async def test_model_profiles_are_admin_written_and_viewer_read(api: RunApi) -> None:
    body = {"name": "team", "provider": "openai", "model": "gpt-5", "api_key": "sk-abc123"}
    denied = await api.client.post("/v1/model-profiles", json=body, headers=DEV)
    created = await api.client.post("/v1/model-profiles", json=body, headers=ADMIN)
    assert denied.status_code == 403
    assert created.status_code == 201
    profile = created.json()
    assert profile["has_key"] is True
    assert "api_key" not in profile
    one = await api.client.get(f"/v1/model-profiles/{profile['id']}", headers=VIEWER)
    listed = await api.client.get("/v1/model-profiles", headers=VIEWER)
    assert one.json() == profile
    assert listed.json()["items"] == [profile]

    refused = await api.client.delete(f"/v1/model-profiles/{profile['id']}", headers=DEV)
    deleted = await api.client.delete(f"/v1/model-profiles/{profile['id']}", headers=ADMIN)
    again = await api.client.delete(f"/v1/model-profiles/{profile['id']}", headers=ADMIN)
    gone = await api.client.get(f"/v1/model-profiles/{profile['id']}", headers=VIEWER)
    assert (refused.status_code, deleted.status_code, again.status_code) == (403, 204, 404)
    assert gone.status_code == 404
    assert (await api.client.get("/v1/model-profiles", headers=VIEWER)).json()["items"] == []
    async with api.engine.connect() as conn:
        kept = (await conn.execute(text("SELECT deleted_at FROM model_profiles"))).scalar_one()
    assert kept is not None  # soft delete: the row stays for the record


@pytest.mark.parametrize(
    "change",
    [
        {"provider": "mistral"},
        {"api_key": ""},
        {"api_key": "sk with spaces"},
        {"api_key": "k" * 4097},
        {"base_url": "http://api.example.com/v1"},
        {"base_url": "https://user:pw@api.example.com"},
        {"base_url": "ftp://api.example.com"},
        {"model": "gpt 5"},
        {"name": ""},
        {"extra": 1},
    ],
)
async def test_malformed_profiles_get_422(api: RunApi, change: dict[str, Any]) -> None:
    body = {"name": "n", "provider": "openai", "model": "gpt-5", "api_key": "sk-1"} | change
    response = await api.client.post("/v1/model-profiles", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert (await api.client.get("/v1/model-profiles", headers=VIEWER)).json()["items"] == []


async def test_loopback_http_base_urls_are_accepted_for_local_stand_ins(api: RunApi) -> None:
    body = {
        "name": "stand-in",
        "provider": "anthropic",
        "model": "claude",
        "api_key": "sk-1",
        "base_url": "http://127.0.0.1:9999/",
    }
    response = await api.client.post("/v1/model-profiles", json=body, headers=ADMIN)
    assert response.status_code == 201
    assert response.json()["base_url"] == "http://127.0.0.1:9999"
