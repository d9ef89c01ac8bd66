"""Fencing: an attempt that cannot renew its lease stops its agent and writes nothing, and
only the attempt holding the lease when it ends publishes its patch, bundle and home.

Real Postgres (a row lock held by another session stalls renewals), real git, the real
`command` executor and the real dispatcher, reaper and attempt code.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agent_runner.agents.executors.base import Credential
from agent_runner.agents.executors.command import CommandAgent
from agent_runner.agents.homes import home_beside, restore_home
from agent_runner.agents.process import ProcessLimits
from agent_runner.git.workspaces import Workspaces
from agent_runner.runs.attempt import AttemptContext, RunAttempt
from agent_runner.runs.dispatcher import Dispatcher
from agent_runner.runs.leases import RunLeases
from agent_runner.runs.reaper import reap_once
from dursor_contracts.events import RunRequestedV1
from dursor_contracts.executors import ExecutorSpec
from dursor_kit.artifacts import LocalArtifactStore
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_store.run_lifecycle import ClaimedRun
from dursor_store.schema import run_events, runs
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import make_remote

LIMITS = ProcessLimits(
    wall_clock_seconds=120, idle_seconds=120, output_cap_bytes=1 << 20, kill_grace_seconds=1
)
TEMPLATES = {
    # Announces itself, then waits far longer than any lease.
    "hang": ["sh", "-c", "echo $$ > {workspace}/agent.pid; echo started; exec sleep 300"],
    # Leaves its mark in the worktree and in its HOME (the session files of a real agent).
    "mark": ["sh", "-c", 'echo "$0" > {workspace}/who.txt; echo "$0" > "$HOME/who"', "{model}"],
}


@dataclass
class World:
    """One database, the run's repository and what workers share."""

    url: str
    engine: AsyncEngine
    remote: str
    artifacts: LocalArtifactStore
    root: Path


@pytest.fixture
async def world(databases: DatabaseFactory, tmp_path: Path) -> AsyncIterator[World]:
    """A fresh database and a one-commit repository."""
    url = await databases.fresh()
    engine = create_async_engine(url)
    remote = f"file://{make_remote(tmp_path / 'remote')}"
    try:
        yield World(url, engine, remote, LocalArtifactStore(tmp_path / "artifacts"), tmp_path)
    finally:
        await engine.dispose()


async def queued_run(world: World, template: str, model: str | None = None) -> UUID:
    """A repository, a task and one queued `command` run on it."""
    run_id, repo_id, task_id = uuid4(), uuid4(), uuid4()
    async with world.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO repos (id, url, default_branch, created_by) "
                "VALUES (:i, :u, 'main', 't')"
            ),
            {"i": repo_id, "u": world.remote},
        )
        await conn.execute(
            text(
                "INSERT INTO tasks (id, repo_id, title, base_branch, created_by) "
                "VALUES (:i, :r, 'fencing', 'main', 't')"
            ),
            {"i": task_id, "r": repo_id},
        )
        await conn.execute(
            runs.insert().values(
                id=run_id,
                task_id=task_id,
                executor_type="command",
                model=model,
                options={"template": template},
                instruction="do it",
                status="queued",
                max_attempts=3,
                branch=f"dursor/{run_id.hex[:12]}",
                created_by="t",
            )
        )
    return run_id


def context(
    engine: AsyncEngine, worker: str, root: Path, world: World, lease: float
) -> AttemptContext:
    """What one worker's attempts share; each worker has its own workspaces."""
    transactions = Transactions(engine, PolledOutbox("agent-runner"))
    return AttemptContext(
        leases=RunLeases(transactions, worker, lease),
        workspaces=Workspaces(root / worker),
        artifacts=world.artifacts,
        agents={"command": CommandAgent(TEMPLATES)},
        limits=LIMITS,
        log_batch_bytes=32 * 1024,
        log_batch_seconds=0.05,
    )


async def no_credential(_: ClaimedRun) -> Credential | None:
    """Command runs here need no model key."""
    return None


async def run_row(world: World, run_id: UUID) -> dict[str, object]:
    async with world.engine.connect() as conn:
        row = (await conn.execute(select(runs).where(runs.c.id == run_id))).one()
    return dict(row._mapping)


async def event_types(world: World, run_id: UUID) -> list[str]:
    async with world.engine.connect() as conn:
        rows = await conn.execute(
            select(run_events.c.type)
            .where(run_events.c.run_id == run_id)
            .order_by(run_events.c.seq)
        )
        return [r.type for r in rows]


async def _until(check: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_an_attempt_that_cannot_renew_its_lease_stops_its_agent_and_writes_nothing(
    world: World,
) -> None:
    run_id = await queued_run(world, "hang")
    lease = 4.0
    ctx = context(world.engine, "stuck", world.root, world, lease)
    dispatcher = Dispatcher(ctx, 1, 60.0, no_credential)
    try:
        await dispatcher.offer(RunRequestedV1(run_id=run_id, task_id=uuid4(), turn=1, attempt=1))
        pid_file = ctx.workspaces.worktree_path(str(run_id)) / "agent.pid"
        await _until(lambda: pid_file.exists() and pid_file.read_text().strip(), 30)
        pid = int(pid_file.read_text())
        assert _alive(pid)
        await asyncio.sleep(0.5)  # the "started" line reaches the log first
        # Another session holds the run's row: every renewal waits and never answers,
        # as with a database the worker cannot reach. The agent does not notice.
        async with world.engine.connect() as blocker:
            held = await blocker.begin()
            await blocker.execute(select(runs.c.id).where(runs.c.id == run_id).with_for_update())
            lost_at = time.monotonic()
            await _until(lambda: not dispatcher.active_run_ids, 60)
            stopped_after = time.monotonic() - lost_at
            await _until(lambda: not _alive(pid), 10)
            await held.rollback()
    finally:
        await dispatcher.drain(0)

    # Stopped once the lease ran out unrenewed, never before: a short stall is forgiven.
    # The lease counts from the last renewal, asked up to one heartbeat period (a third
    # of the lease) before the row was locked, so the stop comes at least that much less
    # than a lease after the lock (a CI run saw 3.27 s of a 4 s lease).
    assert stopped_after >= lease - lease / 3
    row = await run_row(world, run_id)
    # Nothing of the attempt was written after the stall: the reaper decides from here.
    assert (row["status"], row["lease_owner"], row["patch_uri"]) == ("running", "stuck", None)
    types = await event_types(world, run_id)
    assert "log" in types  # the agent's "started" line, written before the stall
    assert not {"completed", "failed", "cancelled", "timed_out"} & set(types), types


class StalledWrites:
    """The real artifact store, with one worker's writes stalled (a slow disk, a long GC pause)."""

    def __init__(self, store: LocalArtifactStore) -> None:
        self._store = store
        self.stalled = asyncio.Event()
        self.resume = asyncio.Event()

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Wait to be resumed, then write."""
        self.stalled.set()
        await self.resume.wait()
        return await self._store.put(key, data, content_type)

    async def get(self, uri: str) -> bytes:
        """Read at once."""
        return await self._store.get(uri)

    def uri(self, key: str) -> str:
        """Where `key` is stored."""
        return self._store.uri(key)

    async def close(self) -> None:
        """Nothing of its own to release."""


async def test_only_the_attempt_holding_the_lease_publishes_its_artifacts(world: World) -> None:
    run_id = await queued_run(world, "mark")
    stalled = StalledWrites(world.artifacts)
    first = replace(context(world.engine, "first", world.root, world, 30.0), artifacts=stalled)
    second = context(world.engine, "second", world.root, world, 30.0)
    loser = await first.leases.claim(run_id, 1, 1)
    assert loser is not None
    late = asyncio.create_task(
        RunAttempt(first, replace(loser, executor=_model(loser, "loser")), None).execute()
    )
    # The first worker finished its agent and stalls writing its patch; meanwhile its
    # lease runs out and the reaper hands the run on.
    await asyncio.wait_for(stalled.stalled.wait(), 60)
    async with world.engine.begin() as conn:
        await conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(lease_expires_at=text("now() - interval '1 second'"))
        )
    assert await reap_once(first.leases.transactions) == 1
    winner = await second.leases.claim(run_id, 1, 2)
    assert winner is not None
    await RunAttempt(second, replace(winner, executor=_model(winner, "winner")), None).execute()
    # The stalled worker wakes up, writes its files and tries to end the turn.
    stalled.resume.set()
    await asyncio.wait_for(late, 60)

    row = await run_row(world, run_id)
    assert (row["status"], row["attempt"]) == ("succeeded", 2)
    assert "/turn-1/attempt-2/" in str(row["patch_uri"])
    assert "/turn-1/attempt-2/" in str(row["bundle_uri"])
    patch = await world.artifacts.get(str(row["patch_uri"]))
    assert b"+winner" in patch
    assert b"loser" not in patch
    # The late attempt's files exist, apart, and nothing names them.
    losers_patch = await world.artifacts.get(
        world.artifacts.uri(f"artifacts/{run_id}/turn-1/attempt-1/patch.diff")
    )
    assert b"+loser" in losers_patch
    home = world.root / "restored-home"
    home.mkdir()
    assert await restore_home(world.artifacts, str(row["patch_uri"]), home)
    assert (home / "who").read_text() == "winner\n"
    assert home_beside(str(row["patch_uri"])).endswith("/turn-1/attempt-2/agent-home.tar.gz")
    assert (await event_types(world, run_id)).count("completed") == 1


def _model(run: ClaimedRun, name: str) -> ExecutorSpec:
    """The run's executor with `name` as its model (what the `mark` template writes)."""
    return run.executor.model_copy(update={"model": name})
