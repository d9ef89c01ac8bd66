"""Pull-request records: requested by run-api with their `pr-requested` message, listed per task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.events import PrRequestedV1
from dursor_contracts.pull_requests import CiStatus
from dursor_kit.db.unit_of_work import Transactions
from dursor_store import pull_requests as pr_sql
from dursor_store.schema import outbox, pull_requests
from tests.support.run_api_app import RunApi, bearer, owner_key, run_api

DEV = bearer("developer", "dev")
VIEWER = bearer("viewer", "watcher")


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api on a fresh database."""
    async with run_api(engine, tmp_path) as app:
        yield app


async def new_run(api: RunApi) -> dict[str, Any]:
    """A queued run on a task whose base branch is `develop`."""
    repo = await api.client.post(
        "/v1/repos", json={"url": "https://github.com/acme/widgets"}, headers=DEV
    )
    task = await api.client.post(
        "/v1/tasks",
        json={"repo_id": repo.json()["id"], "title": "t", "base_branch": "develop"},
        headers=DEV,
    )
    runs = await api.client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={"instruction": "x", "executors": [{"type": "codex"}]},
        headers=DEV,
    )
    run: dict[str, Any] = runs.json()["runs"][0]
    return run


async def sql(api: RunApi, statement: str, **params: Any) -> None:
    """One raw statement in its own transaction."""
    async with api.engine.begin() as conn:
        await conn.execute(text(statement), params)


async def run_to(api: RunApi, run_id: str, *statuses: str, turn: int = 1) -> None:
    """Move a run through legal states (leases set for `running`)."""
    for status in statuses:
        await sql(
            api,
            "UPDATE runs SET status = :s, turn = :t, attempt = 1, "
            "lease_owner = CASE WHEN :r THEN 'w' END, "
            "lease_expires_at = CASE WHEN :r THEN now() END WHERE id = :id",
            s=status,
            t=turn,
            r=status == "running",
            id=run_id,
        )


async def pr_messages(api: RunApi) -> list[PrRequestedV1]:
    """The `pr-requested` messages waiting in the outbox."""
    async with api.engine.connect() as conn:
        payloads = (
            await conn.execute(select(outbox.c.payload).where(outbox.c.topic == "pr-requested"))
        ).scalars()
        return [PrRequestedV1.model_validate(p) for p in payloads]


async def test_a_succeeded_run_gets_a_requested_record_and_its_message(api: RunApi) -> None:
    run = await new_run(api)
    await run_to(api, run["id"], "running", "succeeded")

    response = await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)

    assert response.status_code == 202
    record = response.json()
    assert record["state"] == "requested"
    assert (record["run_id"], record["task_id"]) == (run["id"], run["task_id"])
    assert (record["head_branch"], record["base_branch"]) == (run["branch"], "develop")
    assert (record["number"], record["url"], record["ci_status"]) == (None, None, "unknown")
    assert record["requested_by"] == owner_key("dev")
    (message,) = await pr_messages(api)
    assert str(message.pull_request_id) == record["id"]
    assert str(message.run_id) == run["id"]
    listed = await api.client.get(f"/v1/tasks/{run['task_id']}/pull-requests", headers=VIEWER)
    assert listed.json() == {"items": [record], "next_cursor": None}


@pytest.mark.parametrize("statuses", [(), ("running",), ("running", "failed"), ("cancelled",)])
async def test_a_run_that_never_succeeded_is_a_409_and_writes_nothing(
    api: RunApi, statuses: tuple[str, ...]
) -> None:
    run = await new_run(api)
    await run_to(api, run["id"], *statuses)
    response = await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)
    assert response.status_code == 409
    assert "no successful turn" in response.json()["detail"]
    assert await pr_messages(api) == []
    listed = await api.client.get(f"/v1/tasks/{run['task_id']}/pull-requests", headers=VIEWER)
    assert listed.json()["items"] == []


async def test_a_run_that_succeeded_before_its_current_turn_may_open_one(api: RunApi) -> None:
    run = await new_run(api)
    await run_to(api, run["id"], "running")
    await sql(
        api,
        "INSERT INTO run_attempts (run_id, turn, attempt, status) VALUES (:id, 1, 1, 'running')",
        id=run["id"],
    )
    await sql(api, "UPDATE run_attempts SET status = 'succeeded' WHERE run_id = :id", id=run["id"])
    await run_to(api, run["id"], "succeeded")
    await run_to(api, run["id"], "queued", "running", "failed", turn=2)  # the follow-up failed
    response = await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)
    assert response.status_code == 202


async def test_a_failed_request_can_be_requested_again(api: RunApi) -> None:
    run = await new_run(api)
    await run_to(api, run["id"], "running", "succeeded")
    first = (await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)).json()
    await sql(
        api,
        "UPDATE pull_requests SET state = 'failed', error = 'push rejected' WHERE id = :id",
        id=first["id"],
    )
    again = await api.client.post(
        f"/v1/runs/{run['id']}/pull-request", headers=bearer("developer", "dev2")
    )
    assert again.status_code == 202
    record = again.json()
    assert record["id"] == first["id"]
    assert (record["state"], record["error"]) == ("requested", None)
    assert record["requested_by"] == owner_key("dev2")
    assert record["updated_at"] > first["updated_at"]
    assert len(await pr_messages(api)) == 2


async def test_a_merged_pull_request_is_not_reopened(api: RunApi) -> None:
    run = await new_run(api)
    await run_to(api, run["id"], "running", "succeeded")
    first = (await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)).json()
    await sql(api, "UPDATE pull_requests SET state = 'merged' WHERE id = :id", id=first["id"])
    again = await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)
    assert again.status_code == 409
    assert again.json()["detail"].endswith("is already merged")
    assert len(await pr_messages(api)) == 1
    async with api.engine.connect() as conn:
        state = await conn.scalar(select(pull_requests.c.state))
    assert state == "merged"


async def opened_pull_request(api: RunApi, ci_status: str) -> dict[str, Any]:
    """A succeeded run whose pull request #7 is open at commit `abc`; the request's answer."""
    run = await new_run(api)
    await run_to(api, run["id"], "running", "succeeded")
    first: dict[str, Any] = (
        await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=DEV)
    ).json()
    await sql(
        api,
        "UPDATE pull_requests SET state = 'open', number = 7, ci_status = :ci, "
        "url = 'https://github.com/acme/widgets/pull/7', head_sha = 'abc' WHERE id = :id",
        ci=ci_status,
        id=first["id"],
    )
    return first


async def test_open_records_show_number_url_and_ci(api: RunApi) -> None:
    first = await opened_pull_request(api, "success")
    listed = await api.client.get(f"/v1/tasks/{first['task_id']}/pull-requests", headers=VIEWER)
    (record,) = listed.json()["items"]
    assert (record["state"], record["number"], record["ci_status"]) == ("open", 7, "success")
    assert record["url"] == "https://github.com/acme/widgets/pull/7"


async def test_ci_reported_while_an_open_pull_request_is_updated_is_kept(api: RunApi) -> None:
    first = await opened_pull_request(api, "unknown")
    again = await api.client.post(f"/v1/runs/{first['run_id']}/pull-request", headers=DEV)
    assert again.json()["state"] == "requested"
    async with Transactions(api.engine, None).begin() as work:
        updated = await pr_sql.set_ci_of_head(work, "abc", CiStatus.SUCCESS)
        untouched = await pr_sql.set_ci_of_head(work, "other", CiStatus.FAILURE)
    assert ([pr.id for pr in updated], untouched) == ([UUID(first["id"])], [])
    async with api.engine.connect() as conn:
        assert await conn.scalar(select(pull_requests.c.ci_status)) == "success"


async def test_pull_requests_of_an_unknown_task_are_404(api: RunApi) -> None:
    response = await api.client.get(f"/v1/tasks/{uuid4()}/pull-requests", headers=VIEWER)
    assert response.status_code == 404


async def test_viewers_cannot_request_pull_requests(api: RunApi) -> None:
    run = await new_run(api)
    await run_to(api, run["id"], "running", "succeeded")
    response = await api.client.post(f"/v1/runs/{run['id']}/pull-request", headers=VIEWER)
    assert response.status_code == 403
    assert await pr_messages(api) == []
