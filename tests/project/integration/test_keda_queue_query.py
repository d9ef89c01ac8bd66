"""The KEDA scaler's query of infra/ against the real schema: it counts the work waiting.

agent-runner scales to ceil(count / slots); the count must be the runs queued or running,
whatever else the table holds, so it is run here on a migrated database.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.infra.bicep_tree import parse_file
from tests.infra.conftest import MODULES
from tests.infra.test_azure_scaling import keda_query

# A running run holds a lease; any other status holds none (ck_runs_lease_iff_running).
MOVE = text(
    "UPDATE runs SET status = :s, "
    "lease_owner = CASE WHEN :s = 'running' THEN 'runner-1' END, "
    "lease_expires_at = CASE WHEN :s = 'running' THEN now() + interval '1 minute' END "
    "WHERE id = :id"
)
# status the run ends in -> how many runs to leave there
RUNS = {"queued": 3, "running": 2, "succeeded": 4, "cancelled": 1, "failed": 2}


async def seed_runs(conn: AsyncConnection, counts: dict[str, int]) -> None:
    """Runs that went through the state machine to each status."""
    repo, task = uuid.uuid4(), uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO repos (id, url, default_branch, created_by) VALUES (:id, :u, 'main', 't')"
        ),
        {"id": repo, "u": f"https://example.invalid/{repo}.git"},
    )
    await conn.execute(
        text(
            "INSERT INTO tasks (id, repo_id, title, base_branch, created_by) "
            "VALUES (:id, :repo, 't', 'main', 't')"
        ),
        {"id": task, "repo": repo},
    )
    for status, count in counts.items():
        for _ in range(count):
            run = uuid.uuid4()
            await conn.execute(
                text(
                    "INSERT INTO runs (id, task_id, executor_type, instruction, status, "
                    "max_attempts, branch, created_by) "
                    "VALUES (:id, :task, 'command', 'x', 'queued', 3, :branch, 't')"
                ),
                {"id": run, "task": task, "branch": f"dursor/{run}"},
            )
            for step in {"queued": [], "running": ["running"], "cancelled": ["cancelled"]}.get(
                status, ["running", status]
            ):
                await conn.execute(MOVE, {"s": step, "id": run})


async def test_scaler_query_counts_queued_and_running_runs(engine: AsyncEngine) -> None:
    """3 queued + 2 running among 12 runs: the scaler sees 5."""
    trees = {MODULES / "container-apps.bicep": parse_file(MODULES / "container-apps.bicep")}
    query = keda_query({"container-apps": trees[MODULES / "container-apps.bicep"]})
    async with engine.begin() as conn:
        assert await conn.scalar(text(query)) == 0
        await seed_runs(conn, RUNS)
    async with engine.connect() as conn:
        assert await conn.scalar(text(query)) == RUNS["queued"] + RUNS["running"]
