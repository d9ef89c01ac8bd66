"""agent-runner under failure: killed workers, cancels, and a burst of runs on bounded slots."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from dursor_store.schema import run_attempts, run_events, runs
from tests.conftest import PlatformFactory
from tests.support.git_remote import make_remote
from tests.support.platform import Platform, Replica
from tests.support.sse import collect, frames

pytestmark = pytest.mark.e2e

RUNNER_ENV = {
    "DURSOR_LEASE_SECONDS": "3",
    "DURSOR_REAPER_INTERVAL_SECONDS": "0.5",
    "DURSOR_PULL_INTERVAL_SECONDS": "0.5",
    "DURSOR_KILL_GRACE_SECONDS": "2",
    "DURSOR_MAX_CONCURRENCY": "4",
    "DURSOR_DRAIN_SECONDS": "1",
    "DURSOR_MAX_ACTIVE_RUNS_PER_USER": "1000",
    "DURSOR_MAX_ACTIVE_RUNS_PER_TASK": "1000",
}


async def two_runner_platform(make_platform: PlatformFactory) -> Platform:
    """Gateway, run-api and auth once, agent-runner twice, all ready."""
    platform = await make_platform(env=RUNNER_ENV, start=False)
    replicas = [platform.start(app) for app in ("events-gateway", "run-api", "auth")]
    replicas += [platform.start("agent-runner"), platform.start("agent-runner")]
    await asyncio.gather(*(platform.wait_ready(r) for r in replicas))
    return platform


async def new_task(client: httpx.AsyncClient, remote: Path) -> str:
    """A task on the remote's repository; returns its id."""
    repo = (await client.post("/v1/repos", json={"url": f"file://{remote}"})).json()
    task = await client.post("/v1/tasks", json={"repo_id": repo["id"], "title": "resilience"})
    task_id: str = task.json()["id"]
    return task_id


async def submit(
    client: httpx.AsyncClient, task_id: str, template: str, instruction: str, count: int = 1
) -> list[dict[str, Any]]:
    """Submit `count` runs of a command template in one request."""
    executors = [{"type": "command", "options": {"template": template}}] * count
    response = await client.post(
        f"/v1/tasks/{task_id}/runs", json={"instruction": instruction, "executors": executors}
    )
    assert response.status_code == 202, response.text
    runs_: list[dict[str, Any]] = response.json()["runs"]
    return runs_


async def wait_for_worker(client: httpx.AsyncClient, run_id: str, headers: dict[str, str]) -> str:
    """The worker id of the first `running` status event of a run."""
    async with client.stream("GET", f"/v1/runs/{run_id}/stream", headers=headers) as response:
        async for frame in frames(response):
            if frame.event == "status" and frame.json["data"]["status"] == "running":
                worker: str = frame.json["data"]["worker"]
                return worker
    raise AssertionError("the run never started")


def replica_of(platform: Platform, worker: str) -> Replica:
    """The runner replica whose process is the worker (worker ids are host-pid-suffix)."""
    pid = int(worker.rsplit("-", 2)[1])
    return next(r for r in platform.replicas if r.app.pid == pid)


async def test_killed_runner_run_is_reclaimed_and_finishes_on_the_other(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    platform = await two_runner_platform(make_platform)
    headers = platform.bearer("developer")
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=headers, timeout=60
    ) as client:
        task_id = await new_task(client, make_remote(tmp_path))
        (run,) = await submit(client, task_id, "sleep", "6")
        first_worker = await wait_for_worker(client, run["id"], headers)
        killed = replica_of(platform, first_worker)
        worktree = platform.workdir / "workspaces" / killed.name / "worktrees" / run["id"]
        orphans = await agent_processes_in(worktree)
        killed.kill()
        await asyncio.sleep(1.0)
        survivors = [p.pid for p in orphans if _alive(p.pid)]
        status, events = await collect(client, f"/v1/runs/{run['id']}/stream", headers, timeout=90)
        final = (await client.get(f"/v1/runs/{run['id']}")).json()

    # The agent of attempt 1 died with its worker: never two attempts alive at once.
    assert orphans
    assert survivors == []
    assert status == 200
    assert final["status"] == "succeeded"
    assert final["attempt"] == 2
    statuses = [
        (f.json["attempt"], f.json["data"]["status"], f.json["data"].get("worker"))
        for f in events
        if f.event == "status"
    ]
    running = [(attempt, worker) for attempt, state, worker in statuses if state == "running"]
    assert running[0] == (1, first_worker)
    assert running[1][0] == 2
    assert running[1][1] != first_worker
    assert (2, "queued", None) in statuses
    assert await attempt_rows(platform, run["id"]) == [(1, "failed"), (2, "succeeded")]


async def agent_processes_in(worktree: Path) -> list[psutil.Process]:
    """Processes working in a run's worktree (its agent), once there are some."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = []
        for process in psutil.process_iter():
            try:
                if Path(process.cwd()) == worktree:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no agent process in {worktree}")


async def attempt_rows(platform: Platform, run_id: str) -> list[tuple[int, str]]:
    """(attempt, status) of every attempt row of a run's first turn."""
    engine = create_async_engine(platform.database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(run_attempts.c.attempt, run_attempts.c.status)
                .where(run_attempts.c.run_id == run_id)
                .order_by(run_attempts.c.attempt)
            )
            return [(r.attempt, r.status) for r in rows]
    finally:
        await engine.dispose()


async def test_cancel_stops_the_whole_process_tree_within_the_grace_period(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    platform = await two_runner_platform(make_platform)
    headers = platform.bearer("developer")
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=headers, timeout=60
    ) as client:
        task_id = await new_task(client, make_remote(tmp_path))
        (run,) = await submit(client, task_id, "stubborn", "ignored")
        worker = await wait_for_worker(client, run["id"], headers)
        pids = await agent_pids(platform, replica_of(platform, worker), run["id"])
        group = _pgid(pids[0])
        assert group is not None
        started = time.monotonic()
        cancel = await client.post(f"/v1/runs/{run['id']}/cancel", json={"reason": "enough"})
        _, events = await collect(client, f"/v1/runs/{run['id']}/stream", headers)
        elapsed = time.monotonic() - started

    assert cancel.status_code == 202
    assert events[-1].event == "cancelled"
    assert events[-1].json["data"]["reason"] == "enough"
    assert elapsed < 2 + 5  # grace period + delivery of the cancel and the event
    assert not [p for p in pids if _alive(p)]
    assert not [p.pid for p in psutil.process_iter() if _pgid(p.pid) == group]


async def agent_pids(platform: Platform, replica: Replica, run_id: str) -> list[int]:
    """The pids the `stubborn` template wrote into its worktree."""
    path = platform.workdir / "workspaces" / replica.name / "worktrees" / run_id / "pids.txt"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists() and len(pids := path.read_text().split()) == 2:
            return [int(p) for p in pids]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never listed two pids")


def _pgid(pid: int) -> int | None:
    """The process group of a live process; None once it is gone or a zombie."""
    if not _alive(pid):
        return None
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_two_hundred_runs_on_two_workers_of_four_slots_each_end_exactly_once(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    platform = await two_runner_platform(make_platform)
    headers = platform.bearer("developer")
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=headers, timeout=60
    ) as client:
        task_id = await new_task(client, make_remote(tmp_path))
        batches = await asyncio.gather(
            *(submit(client, task_id, "append-note", f"burst {i}", 8) for i in range(25))
        )
    run_ids = {run["id"] for batch in batches for run in batch}
    assert len(run_ids) == 200

    summary = await wait_until_all_terminal(platform, run_ids, timeout=240)

    assert summary["statuses"] == {"succeeded": 200}, summary["errors"]
    assert summary["attempts_per_run"] == {1}
    assert summary["terminal_events_per_run"] == {1}
    assert summary["max_running_per_worker"] <= 4
    assert summary["workers"] == 2


async def wait_until_all_terminal(
    platform: Platform, run_ids: set[str], timeout: float
) -> dict[str, Any]:
    """Poll Postgres until every run has ended, then summarise how they ran."""
    engine = create_async_engine(platform.database_url)
    deadline = time.monotonic() + timeout
    max_running: dict[str, int] = {}
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                active = await conn.execute(
                    select(runs.c.lease_owner, func.count())
                    .where(runs.c.status == "running")
                    .group_by(runs.c.lease_owner)
                )
                for owner, count in active:
                    max_running[owner] = max(max_running.get(owner, 0), count)
                pending = await conn.scalar(
                    select(func.count())
                    .select_from(runs)
                    .where(runs.c.status.in_(("queued", "running")))
                )
            if pending == 0:
                return await _summary(engine, run_ids, max_running)
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    raise AssertionError(f"{pending} runs still active after {timeout}s")


async def _summary(engine: Any, run_ids: set[str], max_running: dict[str, int]) -> dict[str, Any]:
    async with engine.connect() as conn:
        statuses = dict(
            (await conn.execute(select(runs.c.status, func.count()).group_by(runs.c.status))).all()
        )
        attempts = await conn.execute(
            select(run_attempts.c.run_id, func.count()).group_by(run_attempts.c.run_id)
        )
        terminal = await conn.execute(
            select(run_events.c.run_id, func.count())
            .where(run_events.c.type.in_(("completed", "failed", "cancelled", "timed_out")))
            .group_by(run_events.c.run_id)
        )
        workers = await conn.scalar(select(func.count(func.distinct(run_attempts.c.worker))))
        errors = (
            (await conn.execute(select(runs.c.error).where(runs.c.status != "succeeded").limit(5)))
            .scalars()
            .all()
        )
    attempt_counts = {str(r): c for r, c in attempts}
    terminal_counts = {str(r): c for r, c in terminal}
    assert set(attempt_counts) == run_ids
    return {
        "statuses": statuses,
        "attempts_per_run": set(attempt_counts.values()),
        "terminal_events_per_run": set(terminal_counts.values()),
        "max_running_per_worker": max(max_running.values(), default=0),
        "workers": workers,
        "errors": list(errors),
    }
