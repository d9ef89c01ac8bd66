"""What users may ask of agents is the operator's call, and a model profile is its owner's
unless an Admin shares it: refused requests get a 422 and store nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.schema import runs
from tests.run_api.integration.test_run_api_routes import move_run
from tests.support.run_api_app import RunApi, bearer, run_api

ADMIN = bearer("admin", "boss")
OTHER_ADMIN = bearer("admin", "second-boss")
DEV = bearer("developer", "dev")


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api whose operator lets runs request two tools and only the read-only sandbox."""
    async with run_api(
        engine,
        tmp_path,
        claude_requestable_tools=["Read", "Bash(npm test:*)"],
        codex_requestable_sandboxes=["read-only"],
    ) as app:
        yield app


async def task_id(api: RunApi) -> str:
    """A repository and a task on it."""
    repo = await api.client.post("/v1/repos", json={"url": "file:///srv/repo"}, headers=DEV)
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "t"}, headers=DEV
    )
    assert task.status_code == 201, task.text
    return str(task.json()["id"])


async def submit(
    api: RunApi, task: str, executor: dict[str, Any], who: dict[str, str] = DEV
) -> Any:
    """POST one run with `executor`."""
    body = {"instruction": "go", "executors": [executor]}
    return await api.client.post(f"/v1/tasks/{task}/runs", json=body, headers=who)


async def run_count(api: RunApi) -> int:
    async with api.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(runs)) or 0)


async def profile(api: RunApi, shared: bool, who: dict[str, str] = ADMIN) -> str:
    """A model profile created by an Admin, shared or not."""
    body = {
        "name": "team",
        "provider": "anthropic",
        "model": "claude-x",
        "api_key": "sk-policy-test",
        "shared": shared,
    }
    created = await api.client.post("/v1/model-profiles", json=body, headers=who)
    assert created.status_code == 201, created.text
    assert created.json()["shared"] is shared
    return str(created.json()["id"])


@pytest.mark.parametrize(
    ("executor", "field"),
    [
        (
            {"type": "claude_code", "options": {"allowed_tools": ["Read", "Bash"]}},
            "executors.0.options.allowed_tools",
        ),
        (
            {"type": "claude_code", "options": {"allowed_tools": ["Bash(curl:*)"]}},
            "executors.0.options.allowed_tools",
        ),
        (
            {"type": "codex", "options": {"sandbox": "workspace-write"}},
            "executors.0.options.sandbox",
        ),
        ({"type": "codex"}, "executors.0.options.sandbox"),
    ],
    ids=["a shell", "another command", "a writable sandbox", "the default sandbox"],
)
async def test_options_outside_the_operators_allowlist_get_422(
    api: RunApi, executor: dict[str, Any], field: str
) -> None:
    task = await task_id(api)
    response = await submit(api, task, executor)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/option-not-allowed")
    assert [p["name"] for p in problem["invalid-params"]] == [field]
    assert await run_count(api) == 0


async def test_options_on_the_allowlist_are_accepted(api: RunApi) -> None:
    task = await task_id(api)
    tools = {"type": "claude_code", "options": {"allowed_tools": ["Bash(npm test:*)", "Read"]}}
    sandbox = {"type": "codex", "options": {"sandbox": "read-only"}}

    assert (await submit(api, task, tools)).status_code == 202
    assert (await submit(api, task, sandbox)).status_code == 202
    assert (await submit(api, task, {"type": "claude_code"})).status_code == 202


async def test_a_profile_is_its_owners_until_an_admin_shares_it(api: RunApi) -> None:
    task = await task_id(api)
    private, shared = await profile(api, shared=False), await profile(api, shared=True)

    def using(profile_id: str) -> dict[str, Any]:
        return {"type": "llm", "model_profile_id": profile_id}

    refused = await submit(api, task, using(private))
    another_admin = await submit(api, task, using(private), OTHER_ADMIN)
    owner = await submit(api, task, using(private), ADMIN)
    anyone = await submit(api, task, using(shared))

    assert (refused.status_code, another_admin.status_code) == (422, 422), refused.text
    assert refused.json()["type"].endswith("/model-profile-not-shared")
    assert (owner.status_code, anyone.status_code) == (202, 202)
    assert await run_count(api) == 2


async def test_a_follow_up_needs_the_profile_too(api: RunApi) -> None:
    task = await task_id(api)
    private = await profile(api, shared=False)
    created = await submit(api, task, {"type": "llm", "model_profile_id": private}, ADMIN)
    run_id = created.json()["runs"][0]["id"]
    await move_run(api, run_id, ("running", 1, 1), ("failed", 1, 1))

    response = await api.client.post(
        f"/v1/runs/{run_id}/messages", json={"content": "again"}, headers=DEV
    )

    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/model-profile-not-shared")
