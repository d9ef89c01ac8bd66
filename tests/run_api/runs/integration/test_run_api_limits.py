"""Per-user and per-task limits on active runs: 429 with Retry-After, and nothing written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.schema import messages, outbox, run_events, runs
from tests.support.run_api_app import RunApi, bearer, run_api

ALICE = bearer("developer", "alice")
BOB = bearer("developer", "bob")
PER_USER, PER_TASK = 3, 5


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api with small limits and a recognisable Retry-After."""
    async with run_api(
        engine,
        tmp_path,
        max_active_runs_per_user=PER_USER,
        max_active_runs_per_task=PER_TASK,
        retry_after_seconds=17,
    ) as app:
        yield app


async def new_task(api: RunApi, url: str) -> str:
    """A task on a new repository."""
    repo = await api.client.post("/v1/repos", json={"url": url}, headers=ALICE)
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "t"}, headers=ALICE
    )
    created: str = task.json()["id"]
    return created


async def submit(api: RunApi, task: str, who: dict[str, str], count: int = 1) -> httpx.Response:
    """Ask for `count` runs."""
    return await api.client.post(
        f"/v1/tasks/{task}/runs",
        json={"instruction": "x", "executors": [{"type": "codex"}] * count},
        headers=who,
    )


async def written(api: RunApi) -> tuple[int, ...]:
    """Rows of every table a submission writes to."""
    async with api.engine.connect() as conn:
        counts = [
            await conn.scalar(select(func.count()).select_from(table))
            for table in (runs, messages, run_events, outbox)
        ]
    return tuple(int(c or 0) for c in counts)


def assert_too_many(response: httpx.Response, whose: str) -> None:
    """A 429 problem with the configured Retry-After."""
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("too-many-active-runs")
    assert whose in response.json()["detail"]


async def test_a_user_over_the_limit_gets_429_and_nothing_is_written(api: RunApi) -> None:
    task = await new_task(api, "file:///srv/a")
    other_task = await new_task(api, "file:///srv/b")
    assert (await submit(api, task, ALICE, 2)).status_code == 202
    before = await written(api)

    refused = await submit(api, other_task, ALICE, 2)

    assert_too_many(refused, "of your runs are active; at most 3")
    assert await written(api) == before
    assert (await submit(api, other_task, ALICE, 1)).status_code == 202


async def test_a_task_over_the_limit_gets_429_whoever_asks(api: RunApi) -> None:
    task = await new_task(api, "file:///srv/a")
    assert (await submit(api, task, ALICE, 3)).status_code == 202
    assert (await submit(api, task, BOB, 2)).status_code == 202
    before = await written(api)

    refused = await submit(api, task, BOB, 1)

    assert_too_many(refused, "of this task's runs are active; at most 5")
    assert await written(api) == before


async def test_finished_runs_free_their_place(api: RunApi) -> None:
    task = await new_task(api, "file:///srv/a")
    await submit(api, task, ALICE, 3)
    assert (await submit(api, task, ALICE)).status_code == 429
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE runs SET status = 'cancelled'"))
    assert (await submit(api, task, ALICE, 3)).status_code == 202


async def test_a_follow_up_counts_against_the_limits(api: RunApi) -> None:
    task = await new_task(api, "file:///srv/a")
    first: dict[str, Any] = (await submit(api, task, ALICE)).json()["runs"][0]
    async with api.engine.begin() as conn:
        await conn.execute(text("UPDATE runs SET status = 'cancelled'"))
    await submit(api, task, ALICE, 3)
    before = await written(api)
    follow = await api.client.post(
        f"/v1/runs/{first['id']}/messages", json={"content": "more"}, headers=ALICE
    )
    assert_too_many(follow, "of your runs are active")
    assert await written(api) == before


async def test_concurrent_submissions_never_exceed_the_limit(api: RunApi) -> None:
    task = await new_task(api, "file:///srv/a")
    answers = await asyncio.gather(*(submit(api, task, ALICE) for _ in range(10)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] * PER_USER + [429] * (10 - PER_USER)
    assert (await written(api))[0] == PER_USER
