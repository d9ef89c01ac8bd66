"""Cursor pagination of every list: walk the pages, miss nothing, repeat nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.run_api_app import RunApi, bearer, run_api

DEV = bearer("developer", "dev")
ADMIN = bearer("admin", "boss")


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api without practical run limits."""
    async with run_api(
        engine, tmp_path, max_active_runs_per_user=10_000, max_active_runs_per_task=10_000
    ) as app:
        yield app


async def walk(api: RunApi, path: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = await api.client.get(path, params=params, headers=DEV)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def seeded(api: RunApi) -> dict[str, list[str]]:
    """A few repositories, tasks, runs (several per request), messages, profiles, PRs."""
    ids: dict[str, list[str]] = {"repos": [], "tasks": [], "runs": [], "profiles": []}
    for index in range(3):
        url = f"file:///srv/r{index}"
        repo = await api.client.post("/v1/repos", json={"url": url}, headers=DEV)
        ids["repos"].append(repo.json()["id"])
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": ids["repos"][0], "title": "t"}, headers=DEV
    )
    ids["tasks"].append(task.json()["id"])
    for _ in range(5):  # 5 requests x 4 runs: runs of one request share created_at
        ids["runs"] += [r["id"] for r in await submit(api, ids["tasks"][0], 4)]
    for index in range(4):
        body = {"name": f"p{index}", "provider": "google", "model": "gemini", "api_key": "k"}
        profile = await api.client.post("/v1/model-profiles", json=body, headers=ADMIN)
        ids["profiles"].append(profile.json()["id"])
    return ids


async def submit(api: RunApi, task_id: str, count: int) -> list[dict[str, Any]]:
    """`count` runs in one request."""
    response = await api.client.post(
        f"/v1/tasks/{task_id}/runs",
        json={"instruction": "x", "executors": [{"type": "codex"}] * count},
        headers=DEV,
    )
    assert response.status_code == 202, response.text
    created: list[dict[str, Any]] = response.json()["runs"]
    return created


async def with_pull_requests(api: RunApi, run_ids: list[str]) -> None:
    """Mark runs succeeded and request a pull request for each."""
    async with api.engine.begin() as conn:
        for run_id in run_ids:
            for status in ("running", "succeeded"):
                await conn.execute(
                    text(
                        "UPDATE runs SET status = :s, lease_owner = CASE WHEN :r THEN 'w' END, "
                        "lease_expires_at = CASE WHEN :r THEN now() END WHERE id = :id"
                    ),
                    {"s": status, "r": status == "running", "id": run_id},
                )
    for run_id in run_ids:
        response = await api.client.post(f"/v1/runs/{run_id}/pull-request", headers=DEV)
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("limit", [1, 3, 7, 200])
async def test_every_list_walks_to_exactly_its_items(api: RunApi, limit: int) -> None:
    ids = await seeded(api)
    task, run = ids["tasks"][0], ids["runs"][0]
    await with_pull_requests(api, ids["runs"][:5])
    await api.client.post(f"/v1/runs/{run}/cancel", headers=DEV)
    expected = {
        "/v1/repos": ids["repos"],
        "/v1/tasks": ids["tasks"],
        f"/v1/tasks/{task}/runs": ids["runs"],
        "/v1/model-profiles": ids["profiles"],
    }
    for path, wanted in expected.items():
        walked = [item["id"] for item in await walk(api, path, limit)]
        assert sorted(walked) == sorted(wanted), path
    prs = await walk(api, f"/v1/tasks/{task}/pull-requests", limit)
    assert sorted(p["run_id"] for p in prs) == sorted(ids["runs"][:5])
    assert len(await walk(api, f"/v1/tasks/{task}/messages", limit)) == 5


async def test_pages_are_newest_first_and_stable_in_order(api: RunApi) -> None:
    ids = await seeded(api)
    walked = await walk(api, f"/v1/tasks/{ids['tasks'][0]}/runs", 3)
    keys = [(item["created_at"], item["id"]) for item in walked]
    assert keys == sorted(keys, reverse=True)


async def test_a_walk_during_inserts_sees_every_older_item_once(api: RunApi) -> None:
    ids = await seeded(api)
    task = ids["tasks"][0]
    stop = asyncio.Event()

    async def keep_inserting() -> int:
        made = 0
        while not stop.is_set():
            made += len(await submit(api, task, 3))
        return made

    writer = asyncio.create_task(keep_inserting())
    try:
        walked = [item["id"] for item in await walk(api, f"/v1/tasks/{task}/runs", 2)]
    finally:
        stop.set()
        inserted = await writer
    assert inserted > 0
    assert len(walked) == len(set(walked)), "a run appeared twice"
    assert set(ids["runs"]) <= set(walked), "a run that existed before the walk was missed"
