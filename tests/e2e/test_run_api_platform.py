"""run-api behind the gateway and real sidecars: secret-store keys, retries, limits, PRs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from agent_runner.agents.credentials import ModelProfileCredentials
from dursor_contracts.executors import LlmExecutor
from dursor_kit.crypto import EncryptionKeyRing
from dursor_kit.secret_names import ENCRYPTION_KEYS
from dursor_store.schema import outbox
from tests.support.git_remote import make_remote
from tests.support.platform import ROOT, Platform

pytestmark = pytest.mark.e2e

SECRET = "sk-e2e-" + "Vx7" * 14


def client_for(platform: Platform, role: str, subject: str | None = None) -> httpx.AsyncClient:
    """A gateway client with a token for `role`."""
    headers = platform.bearer(role, subject)
    return httpx.AsyncClient(base_url=platform.gateway.url, headers=headers, timeout=60)


async def new_task(client: httpx.AsyncClient, url: str) -> str:
    """A task on a repository (registered once per URL)."""
    repo = await client.post("/v1/repos", json={"url": url})
    assert repo.status_code == 201, repo.text
    task = await client.post("/v1/tasks", json={"repo_id": repo.json()["id"], "title": "e2e"})
    task_id: str = task.json()["id"]
    return task_id


def all_logs(platform: Platform) -> str:
    """Everything every app and sidecar of the platform printed."""
    return "".join(r.logs() + r.daprd_log.read_text(errors="replace") for r in platform.replicas)


async def test_a_model_key_is_sealed_with_the_secret_store_ring_and_never_leaks(
    platform: Platform,
) -> None:
    async with client_for(platform, "admin") as admin:
        created = await admin.post(
            "/v1/model-profiles",
            json={"name": "e2e", "provider": "openai", "model": "gpt-5", "api_key": SECRET},
        )
        listed = await admin.get("/v1/model-profiles")
    assert created.status_code == 201, created.text
    profile = created.json()
    ring = EncryptionKeyRing.from_json(platform.secrets[ENCRYPTION_KEYS])
    assert profile["encryption_key_id"] == ring.primary
    engine = create_async_engine(platform.database_url)
    try:

        class Run:
            executor = LlmExecutor(type="llm", model_profile_id=UUID(profile["id"]))

        credential = await ModelProfileCredentials(engine, ring).for_run(Run())  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    assert credential is not None
    assert credential.api_key.get_secret_value() == SECRET
    assert SECRET not in created.text + listed.text
    assert "Vx7Vx7" not in all_logs(platform)


async def test_the_rotation_command_reads_ring_and_database_through_the_sidecar(
    platform: Platform,
) -> None:
    async with client_for(platform, "admin") as admin:
        body = {"name": "rot", "provider": "google", "model": "gemini", "api_key": "g-key-1"}
        assert (await admin.post("/v1/model-profiles", json=body)).status_code == 201
    sidecar_port = str(platform.replica("run-api").dapr_http_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DURSOR_", "DAPR_"))}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "run_api.rotate_keys"],
        cwd=ROOT,
        env=env
        | {"DAPR_HTTP_PORT": sidecar_port, "DAPR_API_TOKEN": platform.replica("run-api").api_token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    primary = json.loads(platform.secrets[ENCRYPTION_KEYS])["primary"]
    assert report["primary"] == primary
    assert report["resealed"] == 0
    assert set(report["rows_by_key"]) == {primary}


async def test_a_retried_submission_through_the_gateway_creates_the_runs_once(
    platform: Platform,
) -> None:
    body = {"instruction": "x", "executors": [{"type": "codex"}, {"type": "gemini"}]}
    async with client_for(platform, "developer", "retrier") as client:
        task = await new_task(client, "https://github.com/acme/retries")
        key = {"Idempotency-Key": "e2e-retry-1"}
        answers = [await client.post(f"/v1/tasks/{task}/runs", json=body, headers=key)]
        answers.append(await client.post(f"/v1/tasks/{task}/runs", json=body, headers=key))
        other = await client.post(
            f"/v1/tasks/{task}/runs", json=body | {"instruction": "y"}, headers=key
        )
        listed = await client.get(f"/v1/tasks/{task}/runs")
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].content == answers[1].content
    assert other.status_code == 422
    assert len(listed.json()["items"]) == 2


async def test_over_the_task_limit_the_gateway_relays_429_and_retry_after(
    platform: Platform, tmp_path: Path
) -> None:
    sleepers = {
        "instruction": "30",
        "executors": [{"type": "command", "options": {"template": "sleep"}}] * 8,
    }
    one_more = sleepers | {"executors": sleepers["executors"][:1]}
    async with (
        client_for(platform, "developer", "busy-bee") as client,
        client_for(platform, "developer", "late-comer") as other,
    ):
        task = await new_task(client, f"file://{make_remote(tmp_path)}")
        first = await client.post(f"/v1/tasks/{task}/runs", json=sleepers)
        second = await client.post(f"/v1/tasks/{task}/runs", json=sleepers)
        refused = await other.post(f"/v1/tasks/{task}/runs", json=one_more)
        for accepted in (first, second):
            for run in accepted.json()["runs"]:
                await client.post(f"/v1/runs/{run['id']}/cancel")
    assert (first.status_code, second.status_code) == (202, 202)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.headers["content-type"] == "application/problem+json"
    assert "this task's runs are active" in refused.json()["detail"]


async def wait_for(client: httpx.AsyncClient, path: str, done: Any, timeout: float = 60) -> Any:
    """Poll `path` until `done(body)` holds; returns the body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = (await client.get(path)).json()
        if done(body):
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"{path} never reached the expected state: {body}")


async def test_a_pull_request_request_reaches_agent_runner_which_records_its_outcome(
    platform: Platform, tmp_path: Path
) -> None:
    note = {
        "instruction": "pr please",
        "executors": [{"type": "command", "options": {"template": "append-note"}}],
    }
    async with client_for(platform, "developer", "pr-author") as client:
        task = await new_task(client, f"file://{make_remote(tmp_path)}")
        (run,) = (await client.post(f"/v1/tasks/{task}/runs", json=note)).json()["runs"]
        await wait_for(client, f"/v1/runs/{run['id']}", lambda r: r["status"] == "succeeded")
        requested = await client.post(f"/v1/runs/{run['id']}/pull-request")
        # A file:// repository is no GitHub repository: agent-runner records why it failed.
        final = await wait_for(
            client,
            f"/v1/tasks/{task}/pull-requests",
            lambda page: page["items"] and page["items"][0]["state"] != "requested",
        )
    assert requested.status_code == 202
    assert requested.json()["state"] == "requested"
    (record,) = final["items"]
    assert record["state"] == "failed"
    assert "not a repository on a configured GitHub host" in record["error"]
    engine = create_async_engine(platform.database_url)
    try:
        async with engine.connect() as conn:
            sent = (
                await conn.execute(select(outbox.c.sent_at).where(outbox.c.topic == "pr-requested"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert sent is not None
