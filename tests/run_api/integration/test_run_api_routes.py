"""Every route of run-api against real PostgreSQL, through the real app (ASGI, no sidecar)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.schema import messages, outbox, runs
from tests.support.run_api_app import RunApi, bearer, run_api

DEV = bearer("developer", "dev")
VIEWER = bearer("viewer", "watcher")
ADMIN = bearer("admin", "boss")
PROBLEM = "application/problem+json"


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api on a fresh database."""
    async with run_api(engine, tmp_path, max_body_bytes=16_384) as app:
        yield app


async def new_task(api: RunApi, url: str = "file:///srv/repo") -> dict[str, Any]:
    """A repository and a task on it."""
    repo = await api.client.post("/v1/repos", json={"url": url}, headers=DEV)
    assert repo.status_code == 201, repo.text
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "t"}, headers=DEV
    )
    assert task.status_code == 201, task.text
    created: dict[str, Any] = task.json()
    return created


async def new_runs(api: RunApi, task_id: str, count: int = 1) -> list[dict[str, Any]]:
    """`count` command runs on a task, all accepted."""
    body = {
        "instruction": "write a note",
        "executors": [{"type": "command", "options": {"template": "append-note"}}] * count,
    }
    response = await api.client.post(f"/v1/tasks/{task_id}/runs", json=body, headers=DEV)
    assert response.status_code == 202, response.text
    accepted: list[dict[str, Any]] = response.json()["runs"]
    return accepted


async def move_run(api: RunApi, run_id: str, *steps: tuple[str, int, int]) -> None:
    """Drive a run through legal transitions with SQL, as agent-runner would."""
    async with api.engine.begin() as conn:
        for status, turn, attempt in steps:
            running = status == "running"
            await conn.execute(
                text(
                    "UPDATE runs SET status = :s, turn = :t, attempt = :a, lease_owner = :o, "
                    "lease_expires_at = CASE WHEN :r THEN now() + interval '1 minute' END "
                    "WHERE id = :id"
                ),
                {
                    "s": status,
                    "t": turn,
                    "a": attempt,
                    "o": "w" if running else None,
                    "r": running,
                    "id": UUID(run_id),
                },
            )


async def count(api: RunApi, table: Any) -> int:
    """Rows in a table."""
    async with api.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


# Repositories and tasks


async def test_repository_is_registered_read_and_listed(api: RunApi) -> None:
    created = await api.client.post(
        "/v1/repos",
        json={"url": "https://github.com/acme/widgets/", "default_branch": "trunk"},
        headers=DEV,
    )
    assert created.status_code == 201
    repo = created.json()
    assert repo["url"] == "https://github.com/acme/widgets"
    assert repo["default_branch"] == "trunk"
    assert repo["created_by"] == "https://issuer.test#dev"
    read = await api.client.get(f"/v1/repos/{repo['id']}", headers=VIEWER)
    listed = await api.client.get("/v1/repos", headers=VIEWER)
    assert read.json() == repo
    assert listed.json() == {"items": [repo], "next_cursor": None}


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("http://github.com/acme/widgets", "repo-url-not-allowed"),
        ("https://gitlab.com/acme/widgets", "repo-url-not-allowed"),
        ("https://user:pw@github.com/acme/widgets", "repo-url-invalid"),
        ("https://github.com/acme", "repo-url-invalid"),
        ("file://relative/path", "repo-url-invalid"),
    ],
)
async def test_unacceptable_repository_urls_get_400_and_change_nothing(
    api: RunApi, url: str, slug: str
) -> None:
    response = await api.client.post("/v1/repos", json={"url": url}, headers=DEV)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith(slug)
    assert (await api.client.get("/v1/repos", headers=VIEWER)).json()["items"] == []


async def test_file_repositories_are_refused_outside_local_mode(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with run_api(engine, tmp_path, local_repos_root=None) as api:
        response = await api.client.post("/v1/repos", json={"url": "file:///srv/r"}, headers=DEV)
    assert response.status_code == 400
    assert response.json()["detail"] == "file:// repositories are local mode only"


async def test_the_same_repository_twice_is_a_conflict(api: RunApi) -> None:
    await new_task(api)
    again = await api.client.post("/v1/repos", json={"url": "file:///srv/repo/"}, headers=DEV)
    assert again.status_code == 409
    assert again.json()["detail"] == "file:///srv/repo is already registered"


async def test_task_takes_the_repository_branch_and_lists_by_repository(api: RunApi) -> None:
    task = await new_task(api)
    other = await new_task(api, "file:///srv/other")
    assert task["base_branch"] == "main"
    read = await api.client.get(f"/v1/tasks/{task['id']}", headers=VIEWER)
    assert read.json() == task
    mine = await api.client.get("/v1/tasks", params={"repo_id": task["repo_id"]}, headers=VIEWER)
    every = await api.client.get("/v1/tasks", headers=VIEWER)
    assert [t["id"] for t in mine.json()["items"]] == [task["id"]]
    assert [t["id"] for t in every.json()["items"]] == [other["id"], task["id"]]


async def test_task_on_an_unknown_repository_is_a_400(api: RunApi) -> None:
    response = await api.client.post(
        "/v1/tasks", json={"repo_id": str(uuid4()), "title": "x"}, headers=DEV
    )
    assert response.status_code == 400
    assert response.json()["invalid-params"][0]["name"] == "repo_id"


@pytest.mark.parametrize(
    "body",
    [
        {"repo_id": "not-a-uuid", "title": "x"},
        {"repo_id": str(uuid4()), "title": ""},
        {"repo_id": str(uuid4()), "title": "x" * 201},
        {"repo_id": str(uuid4()), "title": "x", "base_branch": "../etc"},
        {"repo_id": str(uuid4()), "title": "x", "colour": "blue"},
    ],
)
async def test_malformed_task_bodies_get_422(api: RunApi, body: dict[str, Any]) -> None:
    response = await api.client.post("/v1/tasks", json=body, headers=DEV)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["invalid-params"]


# Runs


async def test_runs_are_created_with_their_messages_in_one_transaction(api: RunApi) -> None:
    task = await new_task(api)
    created = await new_runs(api, task["id"], 3)

    assert [r["status"] for r in created] == ["queued"] * 3
    assert len({r["branch"] for r in created}) == 3
    assert all(r["turn"] == 1 and r["attempt"] == 1 for r in created)
    async with api.engine.connect() as conn:
        topics = (await conn.execute(select(outbox.c.topic, outbox.c.payload))).all()
    requested = [p["run_id"] for t, p in topics if t == "run-requested"]
    assert sorted(requested) == sorted(r["id"] for r in created)
    # Each run's `queued` status event is in the log and on its way to run-events.
    assert sum(t == "run-events" for t, _ in topics) == 3
    listed = await api.client.get(f"/v1/tasks/{task['id']}/runs", headers=VIEWER)
    assert {r["id"] for r in listed.json()["items"]} == {r["id"] for r in created}
    one = await api.client.get(f"/v1/runs/{created[0]['id']}", headers=VIEWER)
    assert one.json() == created[0]


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"instruction": "x", "executors": []}, 422, "validation"),
        ({"instruction": "", "executors": [{"type": "codex"}]}, 422, "validation"),
        ({"instruction": "x", "executors": [{"type": "cobol"}]}, 422, "validation"),
        ({"instruction": "x", "executors": [{"type": "llm"}]}, 422, "validation"),
        (
            {"instruction": "x", "executors": [{"type": "codex", "options": {"sandbox": "off"}}]},
            422,
            "validation",
        ),
        (
            {"instruction": "x", "executors": [{"type": "command", "options": {"template": "rm"}}]},
            400,
            "unknown-command-template",
        ),
        (
            {"instruction": "x", "executors": [{"type": "codex"}] * 9},
            400,
            "too-many-executors",
        ),
        (
            {
                "instruction": "x",
                "executors": [{"type": "llm", "model_profile_id": str(uuid4())}],
            },
            400,
            "unknown-model-profile",
        ),
    ],
)
async def test_bad_run_requests_are_refused_and_write_nothing(
    api: RunApi, body: dict[str, Any], status: int, slug: str
) -> None:
    task = await new_task(api)
    response = await api.client.post(f"/v1/tasks/{task['id']}/runs", json=body, headers=DEV)
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(slug)
    assert await count(api, runs) == 0
    assert await count(api, messages) == 0
    assert await count(api, outbox) == 0


async def test_an_instruction_over_the_limit_is_a_400(engine: AsyncEngine, tmp_path: Path) -> None:
    async with run_api(engine, tmp_path, max_instruction_chars=10) as api:
        task = await new_task(api)
        response = await api.client.post(
            f"/v1/tasks/{task['id']}/runs",
            json={"instruction": "x" * 11, "executors": [{"type": "codex"}]},
            headers=DEV,
        )
    assert response.status_code == 400
    assert response.json()["type"].endswith("instruction-too-long")


async def test_runs_of_an_unknown_task_are_404(api: RunApi) -> None:
    ghost = uuid4()
    created = await api.client.post(
        f"/v1/tasks/{ghost}/runs",
        json={"instruction": "x", "executors": [{"type": "codex"}]},
        headers=DEV,
    )
    listed = await api.client.get(f"/v1/tasks/{ghost}/runs", headers=VIEWER)
    assert created.status_code == listed.status_code == 404
    assert created.json()["detail"] == f"task {ghost} does not exist"


async def test_unknown_run_is_404_on_every_run_route(api: RunApi) -> None:
    ghost = uuid4()
    for method, path in [
        ("GET", f"/v1/runs/{ghost}"),
        ("GET", f"/v1/runs/{ghost}/messages"),
        ("GET", f"/v1/runs/{ghost}/patch"),
        ("GET", f"/v1/runs/{ghost}/events"),
        ("POST", f"/v1/runs/{ghost}/cancel"),
        ("POST", f"/v1/runs/{ghost}/pull-request"),
    ]:
        response = await api.client.request(method, path, headers=DEV)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    follow = await api.client.post(f"/v1/runs/{ghost}/messages", json={"content": "x"}, headers=DEV)
    assert follow.status_code == 404


async def test_follow_up_waits_for_the_turn_then_queues_the_next_one(api: RunApi) -> None:
    task = await new_task(api)
    (run,) = await new_runs(api, task["id"])
    busy = await api.client.post(
        f"/v1/runs/{run['id']}/messages", json={"content": "and tests"}, headers=DEV
    )
    assert busy.status_code == 409
    await move_run(api, run["id"], ("running", 1, 1), ("succeeded", 1, 1))

    followed = await api.client.post(
        f"/v1/runs/{run['id']}/messages", json={"content": "and tests"}, headers=DEV
    )

    assert followed.status_code == 202
    assert (followed.json()["status"], followed.json()["turn"]) == ("queued", 2)
    conversation = await api.client.get(f"/v1/runs/{run['id']}/messages", headers=VIEWER)
    assert [m["content"] for m in conversation.json()["items"]] == ["and tests", "write a note"]
    assert conversation.json()["items"][0]["turn"] == 2
    whole = await api.client.get(f"/v1/tasks/{task['id']}/messages", headers=VIEWER)
    assert [m["content"] for m in whole.json()["items"]] == ["and tests", "write a note"]


async def test_cancel_of_a_queued_run_ends_it_and_is_idempotent(api: RunApi) -> None:
    task = await new_task(api)
    (run,) = await new_runs(api, task["id"])
    first = await api.client.post(
        f"/v1/runs/{run['id']}/cancel", json={"reason": "wrong idea"}, headers=DEV
    )
    again = await api.client.post(f"/v1/runs/{run['id']}/cancel", headers=DEV)
    assert first.status_code == again.status_code == 202
    assert first.json()["status"] == again.json()["status"] == "cancelled"
    assert again.json()["error"] == "wrong idea"
    events = (await api.client.get(f"/v1/runs/{run['id']}/events", headers=VIEWER)).json()
    assert [e["type"] for e in events] == ["status", "cancelled"]
    assert events[1]["data"] == {"reason": "wrong idea"}


async def test_cancel_of_a_running_run_asks_its_worker(api: RunApi) -> None:
    task = await new_task(api)
    (run,) = await new_runs(api, task["id"])
    await move_run(api, run["id"], ("running", 1, 1))
    response = await api.client.post(f"/v1/runs/{run['id']}/cancel", headers=DEV)
    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested"] is True
    async with api.engine.connect() as conn:
        asked = (
            await conn.execute(
                select(outbox.c.payload).where(outbox.c.topic == "run-cancel-requested")
            )
        ).scalar_one()
    assert asked["run_id"] == run["id"]
    assert asked["reason"] == "cancelled by dev"


async def test_patch_is_served_as_a_diff_once_stored(api: RunApi) -> None:
    task = await new_task(api)
    (run,) = await new_runs(api, task["id"])
    missing = await api.client.get(f"/v1/runs/{run['id']}/patch", headers=VIEWER)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("no-patch")
    uri = await api.app.state.artifacts.put("a/patch.diff", b"+hello\n", "text/x-diff")
    async with api.engine.begin() as conn:
        await conn.execute(runs.update().where(runs.c.id == UUID(run["id"])).values(patch_uri=uri))
    found = await api.client.get(f"/v1/runs/{run['id']}/patch", headers=VIEWER)
    assert found.status_code == 200
    assert found.headers["content-type"].startswith("text/x-diff")
    assert found.text == "+hello\n"


async def test_event_pages_start_after_the_given_seq(api: RunApi) -> None:
    task = await new_task(api)
    (run,) = await new_runs(api, task["id"])
    await api.client.post(f"/v1/runs/{run['id']}/cancel", headers=DEV)
    after_first = await api.client.get(
        f"/v1/runs/{run['id']}/events", params={"after": 1}, headers=VIEWER
    )
    assert [e["seq"] for e in after_first.json()] == [2]
    bad = await api.client.get(f"/v1/runs/{run['id']}/events", params={"after": -1}, headers=VIEWER)
    assert bad.status_code == 422


# Model profiles in runs (the profile routes: test_run_api_model_profiles.py)


async def test_a_deleted_profile_cannot_be_used_by_new_runs(api: RunApi) -> None:
    # Shared: a Developer may use an Admin's profile only then.
    body: dict[str, str | bool] = {"name": "team", "provider": "anthropic", "model": "claude"}
    body |= {"api_key": "sk-1", "shared": True}
    profile = (await api.client.post("/v1/model-profiles", json=body, headers=ADMIN)).json()
    task = await new_task(api)
    llm = {"instruction": "x", "executors": [{"type": "llm", "model_profile_id": profile["id"]}]}
    accepted = await api.client.post(f"/v1/tasks/{task['id']}/runs", json=llm, headers=DEV)
    await api.client.delete(f"/v1/model-profiles/{profile['id']}", headers=ADMIN)
    refused = await api.client.post(f"/v1/tasks/{task['id']}/runs", json=llm, headers=DEV)
    assert accepted.status_code == 202
    assert accepted.json()["runs"][0]["executor"]["model_profile_id"] == profile["id"]
    assert refused.status_code == 400
