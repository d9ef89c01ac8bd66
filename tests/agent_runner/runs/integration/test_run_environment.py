"""A run's environment as the runner builds it: the submission's pinned base commit, the
variables setup exports to the agent and the verify commands.

Real Postgres (the runner connects as its own database role), real git (a local bare
remote whose branch moves between claims), the real `command` executor and the real
attempt code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agent_runner.agents.executors.command import CommandAgent
from agent_runner.agents.process import ProcessLimits
from agent_runner.git.workspaces import Workspaces
from agent_runner.runs.attempt import AttemptContext, RunAttempt
from agent_runner.runs.leases import RunLeases
from dursor_kit.artifacts import LocalArtifactStore
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_store.runs import pin_base_commit
from dursor_store.schema import repo_environments, run_attempts, run_events, runs
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import git, make_remote

LIMITS = ProcessLimits(
    wall_clock_seconds=120, idle_seconds=120, output_cap_bytes=1 << 20, kill_grace_seconds=1
)
TEMPLATES = {
    # What the agent saw of the repository, left in the worktree.
    "look": ["sh", "-c", "ls > seen.txt"],
    # What the agent process got of the repository's variables.
    "env": ["sh", "-c", 'printf "%s|%s" "$GREETING" "$NOTE" > agent-saw.txt'],
}


@dataclass
class World:
    """One database (as its owner and as agent-runner), a remote and a worker's context."""

    owner: AsyncEngine
    runner: AsyncEngine
    remote: Path
    root: Path
    ctx: AttemptContext


@pytest.fixture
async def world(databases: DatabaseFactory, tmp_path: Path) -> AsyncIterator[World]:
    """A fresh database, a one-commit repository and a worker that fetches at every claim."""
    url = await databases.fresh()
    owner = create_async_engine(url)
    runner = create_async_engine(databases.service_urls(url)["agent-runner"])
    remote = make_remote(tmp_path / "remote")
    transactions = Transactions(runner, PolledOutbox("agent-runner"))
    ctx = AttemptContext(
        leases=RunLeases(transactions, "worker-1", 60.0),
        # No fetch is reused: each claim sees the branch as the remote has it now.
        workspaces=Workspaces(tmp_path / "work", fetch_freshness_seconds=0),
        artifacts=LocalArtifactStore(tmp_path / "artifacts"),
        agents={"command": CommandAgent(TEMPLATES)},
        limits=LIMITS,
        log_batch_bytes=32 * 1024,
        log_batch_seconds=0.05,
    )
    try:
        yield World(owner, runner, remote, tmp_path, ctx)
    finally:
        await owner.dispose()
        await runner.dispose()


async def submission(
    world: World,
    templates: list[str],
    setup: list[str] | None = None,
    verify: list[str] | None = None,
) -> list[UUID]:
    """A repository (with its environment), a task and one queued `command` run per
    template, in one transaction."""
    repo_id, task_id = uuid4(), uuid4()
    run_ids = [uuid4() for _ in templates]
    async with world.owner.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO repos (id, url, default_branch, created_by) "
                "VALUES (:i, :u, 'main', 't')"
            ),
            {"i": repo_id, "u": f"file://{world.remote}"},
        )
        if setup or verify:
            await conn.execute(
                repo_environments.insert().values(
                    repo_id=repo_id, setup=setup or [], verify=verify or [], updated_by="t"
                )
            )
        await conn.execute(
            text(
                "INSERT INTO tasks (id, repo_id, title, base_branch, created_by) "
                "VALUES (:i, :r, 'environment', 'main', 't')"
            ),
            {"i": task_id, "r": repo_id},
        )
        for run_id, template in zip(run_ids, templates, strict=True):
            await conn.execute(
                runs.insert().values(
                    id=run_id,
                    task_id=task_id,
                    executor_type="command",
                    options={"template": template},
                    instruction="look around",
                    status="queued",
                    max_attempts=2,
                    branch=f"dursor/{run_id.hex[:12]}",
                    created_by="t",
                )
            )
    return run_ids


async def execute(world: World, run_id: UUID) -> dict[str, object]:
    """Claim the run's first turn, run it to its end; the run's row."""
    claimed = await world.ctx.leases.claim(run_id, 1, 1)
    assert claimed is not None
    await RunAttempt(world.ctx, claimed, None).execute()
    async with world.owner.connect() as conn:
        row = (await conn.execute(select(runs).where(runs.c.id == run_id))).one()
    return dict(row._mapping)


def move_branch(remote: Path, root: Path) -> str:
    """Push a new commit onto the remote's `main`; its id."""
    clone = root / "mover"
    git("clone", "-q", str(remote), str(clone), cwd=root)
    (clone / "moved.txt").write_text("the branch moved\n")
    git("add", ".", cwd=clone)
    git("commit", "-q", "-m", "move main", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone).strip()


async def test_runs_of_one_submission_start_from_the_commit_pinned_at_the_first_claim(
    world: World,
) -> None:
    first, second = await submission(world, ["look", "look"])
    original = git("rev-parse", "main", cwd=world.remote).strip()

    first_row = await execute(world, first)
    assert first_row["status"] == "succeeded", first_row["error"]
    assert first_row["base_commit"] == original
    async with world.owner.connect() as conn:
        pinned = await conn.scalar(select(runs.c.base_commit).where(runs.c.id == second))
    assert pinned == original  # recorded on the sibling before it was even claimed

    moved = move_branch(world.remote, world.root)
    assert moved != original
    second_row = await execute(world, second)

    assert second_row["status"] == "succeeded", second_row["error"]
    assert second_row["base_commit"] == original
    # The worker did see the move (it fetched), and still started from the pinned commit.
    mirror = world.ctx.workspaces.mirror_path(f"file://{world.remote}")
    assert git("rev-parse", "refs/remotes/origin/main", cwd=mirror).strip() == moved
    worktree = world.ctx.workspaces.worktree_path(str(second))
    assert "moved.txt" not in (worktree / "seen.txt").read_text().split()
    repo = world.ctx.workspaces.repo(str(second))
    parent = (await repo.git("rev-parse", "HEAD^")).decode().strip()
    assert parent == original
    # The patch holds the agent's change only, not the branch's new commit.
    patch = await world.ctx.artifacts.get(str(second_row["patch_uri"]))
    assert b"seen.txt" in patch
    assert b"moved.txt" not in patch


async def test_two_claims_pinning_at_once_agree_on_one_commit(world: World) -> None:
    first, second = await submission(world, ["look", "look"])

    async def pin(run_id: UUID, commit: str) -> str:
        async with world.runner.begin() as conn:
            return await pin_base_commit(conn, run_id, commit)

    async with world.runner.connect() as holder:
        held = await holder.begin()
        assert await pin_base_commit(holder, first, "a" * 40) == "a" * 40
        # The other claim waits for the first one's transaction ...
        waiting = asyncio.create_task(pin(second, "b" * 40))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        await held.commit()
    # ... and then finds its commit instead of pinning its own.
    assert await asyncio.wait_for(waiting, 30) == "a" * 40
    async with world.owner.connect() as conn:
        stored = (await conn.scalars(select(runs.c.base_commit))).all()
    assert stored == ["a" * 40, "a" * 40]
    assert await pin(first, "c" * 40) == "a" * 40  # a later pin changes nothing

