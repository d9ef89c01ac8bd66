"""Idempotency-Key on run-api's POSTs, against real PostgreSQL through the real app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.schema import idempotency_keys, outbox, repos, runs
from run_api.idempotency import repository as key_sql
from run_api.runs import endpoints as run_routes
from tests.support.run_api_app import RunApi, bearer, owner_key, run_api

DEV = bearer("developer", "dev")
OTHER_DEV = bearer("developer", "someone-else")
RUNS_BODY: dict[str, Any] = {
    "instruction": "add a readme",
    "executors": [
        {"type": "command", "options": {"template": "append-note"}},
        {"type": "codex"},
    ],
}


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api on a fresh database."""
    async with run_api(engine, tmp_path, max_active_runs_per_user=4) as app:
        yield app


async def task_id(api: RunApi) -> str:
    """A task to submit runs to."""
    repo = await api.client.post("/v1/repos", json={"url": "file:///srv/r"}, headers=DEV)
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "t"}, headers=DEV
    )
    created: str = task.json()["id"]
    return created


async def rows(api: RunApi, table: Any) -> int:
    """How many rows a table has."""
    async with api.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


def keyed(key: str, headers: dict[str, str] = DEV) -> dict[str, str]:
    """Headers with an idempotency key."""
    return headers | {"Idempotency-Key": key}


async def submit(api: RunApi, task: str, key: str, body: Any = None) -> httpx.Response:
    """POST runs with a key."""
    return await api.client.post(
        f"/v1/tasks/{task}/runs", json=RUNS_BODY if body is None else body, headers=keyed(key)
    )


async def test_a_retry_gets_the_first_answer_and_writes_nothing(api: RunApi) -> None:
    task = await task_id(api)
    first = await submit(api, task, "create-runs-1")
    written = (await rows(api, runs), await rows(api, outbox))
    # Same body, other key order and spacing: the same request.
    reordered = {"executors": RUNS_BODY["executors"], "instruction": RUNS_BODY["instruction"]}
    retries = [await submit(api, task, "create-runs-1", body) for body in (None, reordered)]

    assert first.status_code == 202
    # Two runs; each a run-lifecycle `accepted`, a run-requested and a run-events message.
    assert written == (2, 6)
    for retry in retries:
        assert retry.status_code == 202
        assert retry.content == first.content
        assert retry.headers["content-type"] == first.headers["content-type"]
        assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (await rows(api, runs), await rows(api, outbox)) == written


async def test_location_and_status_of_a_created_resource_are_replayed(api: RunApi) -> None:
    body = {"url": "file:///srv/again"}
    first = await api.client.post("/v1/repos", json=body, headers=keyed("repo-1"))
    again = await api.client.post("/v1/repos", json=body, headers=keyed("repo-1"))
    plain = await api.client.post("/v1/repos", json=body, headers=DEV)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert plain.status_code == 409  # without the key the duplicate is a real second request
    assert await rows(api, repos) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (None, {"instruction": "something else", "executors": [{"type": "codex"}]}),
        ("/v1/repos", {"url": "file:///srv/elsewhere"}),
    ],
    ids=["other body", "other path"],
)
async def test_the_same_key_for_another_request_is_a_422(
    api: RunApi, path: str | None, body: dict[str, Any]
) -> None:
    task = await task_id(api)
    await submit(api, task, "k-1")
    before = (await rows(api, runs), await rows(api, repos))
    response = await api.client.post(
        path or f"/v1/tasks/{task}/runs", json=body, headers=keyed("k-1")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("idempotency-key-reused")
    assert (await rows(api, runs), await rows(api, repos)) == before


async def test_keys_belong_to_their_caller(api: RunApi) -> None:
    task = await task_id(api)
    mine = await submit(api, task, "shared-key")
    theirs = await api.client.post(
        f"/v1/tasks/{task}/runs", json=RUNS_BODY, headers=keyed("shared-key", OTHER_DEV)
    )
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json() != theirs.json()
    assert await rows(api, runs) == 4


@pytest.mark.parametrize("key", ["k" * 256, "has space", "tab\tkey", "ключ"])
async def test_malformed_keys_are_a_400(api: RunApi, key: str) -> None:
    response = await api.client.post(
        "/v1/repos",
        json={"url": "file:///srv/x"},
        headers=[(k.encode(), v.encode()) for k, v in DEV.items()]
        + [(b"idempotency-key", key.encode())],
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("invalid-idempotency-key")
    assert await rows(api, repos) == 0


async def test_the_longest_key_is_accepted(api: RunApi) -> None:
    response = await api.client.post(
        "/v1/repos", json={"url": "file:///srv/x"}, headers=keyed("k" * 255)
    )
    assert response.status_code == 201


async def test_a_duplicate_while_the_first_is_in_flight_is_a_409(api: RunApi) -> None:
    task = await task_id(api)
    owner = owner_key("dev")
    async with api.engine.connect() as holder, holder.begin():
        # What the first request holds for its whole transaction.
        assert await key_sql.try_lock(holder, owner, "busy-key")
        response = await submit(api, task, "busy-key")
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("idempotency-key-in-flight")
    assert await rows(api, runs) == 0
    assert (await submit(api, task, "busy-key")).status_code == 202


async def test_concurrent_duplicates_create_the_runs_once(api: RunApi) -> None:
    task = await task_id(api)
    answers = await asyncio.gather(*(submit(api, task, "burst") for _ in range(8)))
    accepted = [a for a in answers if a.status_code == 202]
    assert {a.status_code for a in answers} <= {202, 409}
    assert accepted
    assert len({a.content for a in accepted}) == 1
    assert await rows(api, runs) == 2


async def test_a_refused_request_is_not_remembered(api: RunApi) -> None:
    task = await task_id(api)
    wrong = {"instruction": "x", "executors": [{"type": "command", "options": {"template": "z"}}]}
    refused = await submit(api, task, "fix-and-retry", wrong)
    fixed = await submit(api, task, "fix-and-retry")
    assert refused.status_code == 400
    assert fixed.status_code == 202
    assert await rows(api, idempotency_keys) == 1


async def test_over_the_limit_the_key_can_be_used_once_runs_finish(api: RunApi) -> None:
    task = await task_id(api)
    await submit(api, task, "fill-1")
    await submit(api, task, "fill-2")
    refused = await submit(api, task, "later")
    assert refused.status_code == 429
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE runs SET status = 'cancelled'"))
    assert (await submit(api, task, "later")).status_code == 202


async def test_a_crash_after_the_write_keeps_neither_change_nor_answer(
    api: RunApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = await task_id(api)

    def crash(_: Any) -> Any:
        raise RuntimeError("the process died after the service wrote")

    monkeypatch.setattr(run_routes, "run_out", crash)
    with (
        structlog.testing.capture_logs() as logged,
        pytest.raises(RuntimeError),  # ASGITransport re-raises what the server logged
    ):
        await submit(api, task, "crashy")
    assert [e["event"] for e in logged if e["log_level"] == "error"] == ["unhandled error"]
    assert (await rows(api, runs), await rows(api, outbox), await rows(api, idempotency_keys)) == (
        0,
        0,
        0,
    )
    monkeypatch.undo()
    assert (await submit(api, task, "crashy")).status_code == 202
    assert await rows(api, runs) == 2


async def test_keys_expire_after_the_retention_window(api: RunApi) -> None:
    task = await task_id(api)
    first = await submit(api, task, "old-key")
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '25h'"))
    again = await submit(api, task, "old-key")
    assert again.status_code == 202
    assert again.json() != first.json()
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '25h'"))
        assert await key_sql.purge(conn, timedelta(hours=24)) == 1
    assert await rows(api, idempotency_keys) == 0


async def test_a_key_on_a_read_changes_nothing(api: RunApi) -> None:
    response = await api.client.get("/v1/repos", headers=keyed("read-key"))
    assert response.status_code == 200
    assert await rows(api, idempotency_keys) == 0


async def test_without_a_valid_token_the_key_is_not_stored(api: RunApi) -> None:
    response = await api.client.post(
        "/v1/repos", json={"url": "file:///srv/x"}, headers={"Idempotency-Key": "anon"}
    )
    assert response.status_code == 401
    assert await rows(api, idempotency_keys) == 0
