"""The public topics' messages are written with the change they announce, in order per run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.integrations import LifecycleStage, PullRequestUpdatedV1, RunLifecycleV1
from dursor_contracts.pull_requests import PullRequestState
from dursor_kit.db.unit_of_work import PolledOutbox, unit_of_work
from dursor_store.integration_events import lifecycle_event_id
from dursor_store.pull_requests import set_state_of_url
from dursor_store.schema import outbox, pull_requests, run_events
from tests.support.run_api_app import RunApi, bearer, run_api

DEV = bearer("developer")


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    async with run_api(engine, tmp_path) as running:
        yield running


async def outbox_messages(engine: AsyncEngine) -> list[tuple[str, UUID, dict[str, Any]]]:
    """(topic, event id, payload) of every outbox row, in the order the relay sends them."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.topic, outbox.c.event_id, outbox.c.payload).order_by(outbox.c.id)
        )
        return [(r.topic, r.event_id, r.payload) for r in rows]


async def event_seqs(engine: AsyncEngine, run_id: str) -> dict[str, int]:
    """Event type (with status for status events) -> seq, of one run."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(run_events.c.seq, run_events.c.type, run_events.c.data).where(
                run_events.c.run_id == UUID(run_id)
            )
        )
        return {(r.data.get("status") or r.type): r.seq for r in rows}


async def new_runs(api: RunApi, count: int) -> list[dict[str, Any]]:
    repo = await api.client.post("/v1/repos", json={"url": "file:///srv/topics"}, headers=DEV)
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "topics"}, headers=DEV
    )
    accepted = await api.client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={"instruction": "do it", "executors": [{"type": "codex"}] * count},
        headers=DEV,
    )
    assert accepted.status_code == 202, accepted.text
    runs: list[dict[str, Any]] = accepted.json()["runs"]
    return runs


async def test_accepted_goes_out_before_the_runner_hears_and_finished_after_cancel(
    api: RunApi,
) -> None:
    runs = await new_runs(api, 2)
    for run in runs:
        assert (await api.client.post(f"/v1/runs/{run['id']}/cancel", headers=DEV)).is_success
    messages = await outbox_messages(api.engine)

    for run in runs:
        mine = [(t, i, p) for t, i, p in messages if p.get("run_id") == run["id"]]
        topics = [t for t, _, _ in mine if t != "run-events"]
        assert topics == ["run-lifecycle", "run-requested", "run-lifecycle"]
        lifecycle = [RunLifecycleV1.model_validate(p) for t, _, p in mine if t == "run-lifecycle"]
        accepted, finished = lifecycle
        seqs = await event_seqs(api.engine, run["id"])
        assert (accepted.stage, accepted.status, accepted.sequence) == (
            LifecycleStage.ACCEPTED,
            "queued",
            seqs["queued"],
        )
        assert (finished.stage, finished.status, finished.sequence) == (
            LifecycleStage.FINISHED,
            "cancelled",
            seqs["cancelled"],
        )
        assert finished.error is not None
        assert "cancelled by" in finished.error
        assert finished.links.run == f"/v1/runs/{run['id']}"
        ids = [i for t, i, _ in mine if t == "run-lifecycle"]
        assert ids == [lifecycle_event_id(UUID(run["id"]), m.sequence, m.stage) for m in lifecycle]
        # The instruction and the executor's options stay internal.
        assert all(
            "instruction" not in p and "options" not in p
            for t, _, p in mine
            if t == "run-lifecycle"
        )


async def test_a_pull_request_change_is_announced_once_and_no_change_not_at_all(
    api: RunApi,
) -> None:
    (run,) = await new_runs(api, 1)
    url = "https://github.com/acme/app/pull/7"
    async with api.engine.begin() as conn:
        await conn.execute(
            insert(pull_requests).values(
                id=uuid4(),
                run_id=UUID(run["id"]),
                task_id=UUID(run["task_id"]),
                number=7,
                url=url,
                state=PullRequestState.OPEN,
                head_branch=run["branch"],
                base_branch="main",
                requested_by="tests",
            )
        )
    for _ in range(2):  # GitHub may tell the same news twice
        async with unit_of_work(api.engine, PolledOutbox("run-api")) as work:
            assert await set_state_of_url(work, url, PullRequestState.MERGED) is not None

    updates = [p for t, _, p in await outbox_messages(api.engine) if t == "pull-request-updated"]
    assert len(updates) == 1
    update = PullRequestUpdatedV1.model_validate(updates[0])
    assert (update.state, update.number, update.url) == (PullRequestState.MERGED, 7, url)
    assert str(update.run_id) == run["id"]
