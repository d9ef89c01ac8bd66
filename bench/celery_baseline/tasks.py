"""The seed's Celery worker task: row to `running`, publish progress, clone, agent, commit, end.

The seed's sequence (section 6): the worker takes the task, sets the row to `running`,
publishes progress, clones/fetches the repository, runs the agent, stores the result
and publishes the end. Like our runner, it commits the agent's changes and takes the
diff, so both sides put similar git work on the machine after `running`.

Start it with `celery -A bench.celery_baseline.tasks:celery_app worker -Q agent`. Each
prefork child keeps one event loop with an asyncpg pool and a Redis client, created on
its first task (after the fork), so a task costs queries, not connections.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import redis.asyncio as redis
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.celery_baseline.celery_app import RUN_AGENT_TASK, make_celery
from bench.celery_baseline.schema import seed_runs
from bench.celery_baseline.settings import BaselineSettings, events_channel
from dursor_kit.db.engine import create_engine

# The same stand-in agent as our `sleep` command template: sleeps `instruction` seconds.
AGENT_ARGV = ["sh", "-c", 'echo "sleeping $1"; sleep "$1"; echo "slept $1" > SLEPT.md', "dursor"]
GIT = ["git", "-c", "user.name=dursor", "-c", "user.email=dursor@bench.invalid"]

settings = BaselineSettings.from_env()
celery_app = make_celery(settings)


@dataclass
class ChildResources:
    """One prefork child's event loop, database pool and Redis client."""

    loop: asyncio.AbstractEventLoop
    engine: AsyncEngine
    redis: redis.Redis


_resources: list[ChildResources] = []


def child_resources() -> ChildResources:
    """This process's resources, made on first use so they are never shared across a fork."""
    if not _resources:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        engine = create_engine(settings.database_url, pool_size=2)
        _resources.append(ChildResources(loop, engine, redis.from_url(settings.redis_url)))
    return _resources[0]


async def publish(client: redis.Redis, run_id: str, event: dict[str, Any]) -> None:
    """PUBLISH one event on the run's channel (the seed's `publish_progress`)."""
    await client.publish(events_channel(run_id), json.dumps(event))


async def set_status(engine: AsyncEngine, run_id: str, old: str, new: str) -> bool:
    """Move the row from `old` to `new`; False if it was not in `old`."""
    timing = seed_runs.c.started_at if new == "running" else seed_runs.c.finished_at
    async with engine.begin() as conn:
        row = await conn.execute(
            update(seed_runs)
            .where(seed_runs.c.id == UUID(run_id), seed_runs.c.status == old)
            .values({seed_runs.c.status: new, timing: func.now()})
            .returning(seed_runs.c.id)
        )
        return row.one_or_none() is not None


async def execute(argv: list[str], cwd: str) -> tuple[int, bytes]:
    """Run a program; its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output


async def agent_turn(workspace: str, instruction: str) -> tuple[int, bytes]:
    """Clone, run the agent, commit its changes; the agent's status and the patch."""
    clone, output = await execute([*GIT, "clone", "-q", settings.repo_url, workspace], "/")
    if clone != 0:
        raise RuntimeError(output.decode())
    status, _ = await execute([*AGENT_ARGV, instruction], workspace)
    await execute([*GIT, "add", "-A"], workspace)
    await execute([*GIT, "commit", "-q", "-m", f"dursor: {instruction[:60]}"], workspace)
    _, patch = await execute([*GIT, "diff", "HEAD~1"], workspace)
    return status, patch


async def run_agent(resources: ChildResources, run_id: str, instruction: str) -> dict[str, str]:
    """DB running, publish progress, clone + agent + commit, DB end, publish the end."""
    if not await set_status(resources.engine, run_id, "queued", "running"):
        return {"status": "skipped", "run_id": run_id}
    await publish(resources.redis, run_id, {"type": "progress", "status": "running"})
    with tempfile.TemporaryDirectory(prefix="seed-run-") as workspace:
        exit_code, patch = await agent_turn(workspace, instruction)
    status = "completed" if exit_code == 0 else "failed"
    await set_status(resources.engine, run_id, "running", status)
    await publish(resources.redis, run_id, {"type": status, "patch_bytes": len(patch)})
    return {"status": status, "run_id": run_id}


def run_agent_task(task: Any, run_id: str, instruction: str) -> dict[str, str]:
    """The Celery task body: the seed's async agent code, on this child's loop."""
    resources = child_resources()
    try:
        return resources.loop.run_until_complete(run_agent(resources, run_id, instruction))
    except Exception as exc:
        # The seed also retries after 60 s (`self.retry`); a benchmark counts the failure.
        failed = {"type": "failed", "error": str(exc)}
        resources.loop.run_until_complete(publish(resources.redis, run_id, failed))
        raise


celery_app.task(name=RUN_AGENT_TASK, bind=True, max_retries=3)(run_agent_task)
