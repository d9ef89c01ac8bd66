"""A run's environment as the runner builds it: the submission's pinned base commit, the
variables setup exports to the agent and the verify commands, and the repository's
secrets (injected only where each says and the operator allows, masked in what the run
records, never stored in a patch).

Real Postgres (the runner connects as its own database role), real git (a local bare
remote whose branch moves between claims), the real `command` executor and the real
attempt code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agent_runner.agents.executors.command import CommandAgent
from agent_runner.agents.process import ProcessLimits
from agent_runner.git.workspaces import Workspaces
from agent_runner.runs.attempt import AttemptContext, RunAttempt
from agent_runner.runs.leases import RunLeases
from agent_runner.runs.secrets import RepoSecrets
from agent_runner.runs.setup_cache import SetupCache
from dursor_contracts.environment import secret_context
from dursor_kit.artifacts import LocalArtifactStore
from dursor_kit.crypto import EncryptionKeyRing
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_kit.local_secrets import new_keyring
from dursor_store.runs import pin_base_commit
from dursor_store.schema import (
    repo_environments,
    repo_secrets,
    run_attempts,
    run_events,
    runs,
)
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
    # Which secrets the agent got (kept in its HOME: the worktree would hold them).
    "secrets": [
        "sh",
        "-c",
        'printf "%s|%s|%s" "$SETUP_ONLY" "$AGENT_ONLY" "$VERIFY_ONLY" > "$HOME/seen";'
        ' echo "agent sees $AGENT_ONLY"',
    ],
    # Uses what setup installed.
    "deps": ["sh", "-c", 'cat deps/lib.txt > saw-deps.txt; echo "$DEPS" >> saw-deps.txt'],
    # Writes a secret into the repository.
    "leak": ["sh", "-c", 'echo "token: $AGENT_ONLY" > config.yml'],
}
SECRETS = {
    "SETUP_ONLY": ("setup-value-1", ["setup"]),
    "AGENT_ONLY": ("agent-value-2", ["agent"]),
    "VERIFY_ONLY": ("verify-value-3", ["verify"]),
}


@dataclass
class World:
    """One database (as its owner and as agent-runner), a remote and a worker's context."""

    owner: AsyncEngine
    runner: AsyncEngine
    remote: Path
    root: Path
    ctx: AttemptContext
    ring: EncryptionKeyRing


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
        ring = EncryptionKeyRing.from_json(new_keyring())
        yield World(owner, runner, remote, tmp_path, ctx, ring)
    finally:
        await owner.dispose()
        await runner.dispose()


async def submission(
    world: World,
    templates: list[str],
    setup: list[str] | None = None,
    verify: list[str] | None = None,
    remote: Path | None = None,
) -> list[UUID]:
    """A repository (with its environment), a task and one queued `command` run per
    template, in one transaction."""
    task_id = uuid4()
    run_ids = [uuid4() for _ in templates]
    async with world.owner.begin() as conn:
        # One repository per URL: a second submission on it finds the first one's.
        repo_id = await conn.scalar(
            text(
                "INSERT INTO repos (id, url, default_branch, created_by) "
                "VALUES (:i, :u, 'main', 't') "
                "ON CONFLICT (url) DO UPDATE SET url = EXCLUDED.url RETURNING id"
            ),
            {"i": uuid4(), "u": f"file://{remote or world.remote}"},
        )
        if setup is not None or verify is not None:
            await conn.execute(
                pg_insert(repo_environments)
                .values(repo_id=repo_id, setup=setup or [], verify=verify or [], updated_by="t")
                .on_conflict_do_nothing()
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


async def execute(
    world: World, run_id: UUID, ctx: AttemptContext | None = None
) -> dict[str, object]:
    """Claim the run's first turn, run it to its end; the run's row."""
    ctx = ctx or world.ctx
    claimed = await ctx.leases.claim(run_id, 1, 1)
    assert claimed is not None
    await RunAttempt(ctx, claimed, None).execute()
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


async def test_variables_setup_exports_reach_later_setup_the_agent_and_verify(
    world: World,
) -> None:
    setup = [
        'echo "GREETING=hello there" >> "$DURSOR_ENV"',
        "printf 'NOTE<<END\\nline one\\nline two\\nEND\\n' >> \"$DURSOR_ENV\"",
        'echo "second command sees $GREETING"',
    ]
    verify = ['test "$GREETING" = "hello there"', 'echo "verify sees $NOTE"']
    (run_id,) = await submission(world, ["env"], setup, verify)

    row = await execute(world, run_id)

    assert row["status"] == "succeeded", row["error"]
    worktree = world.ctx.workspaces.worktree_path(str(run_id))
    assert (worktree / "agent-saw.txt").read_text() == "hello there|line one\nline two"
    lines = await log_lines(world, run_id)
    assert "second command sees hello there" in lines
    assert "verify sees line one" in lines
    async with world.owner.connect() as conn:
        verification = await conn.scalar(
            select(run_attempts.c.verification).where(run_attempts.c.run_id == run_id)
        )
    assert verification is not None
    assert verification["passed"] is True, verification
    # Read and gone: the file is not left in the agent's HOME.
    home = world.ctx.workspaces.home_path(str(run_id))
    assert not list(home.glob("tmp/dursor-env-*"))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("PATH=/tmp/evil", "`PATH` is set by the runner"),
        ("LD_PRELOAD=/tmp/evil.so", "`LD_PRELOAD` is set by the runner"),
        ("DURSOR_DATABASE_URL=x", "`DURSOR_DATABASE_URL` is set by the runner"),
        ("ANTHROPIC_BASE_URL=http://elsewhere", "`ANTHROPIC_BASE_URL` is set by the runner"),
        ("not a variable", "expected NAME=value"),
    ],
)
async def test_an_export_the_runner_refuses_fails_the_setup_before_the_agent(
    world: World, line: str, why: str
) -> None:
    setup = [f"echo '{line}' >> \"$DURSOR_ENV\""]
    (run_id,) = await submission(world, ["env"], setup)

    row = await execute(world, run_id)

    assert row["status"] == "failed"
    assert str(row["error"]).startswith("setup_failed: "), row["error"]
    assert why in str(row["error"]), row["error"]
    worktree = world.ctx.workspaces.worktree_path(str(run_id))
    assert not (worktree / "agent-saw.txt").exists()  # the agent never ran


async def log_lines(world: World, run_id: UUID) -> list[str]:
    """Every line the run logged, in order."""
    async with world.owner.connect() as conn:
        rows = await conn.scalars(
            select(run_events.c.data)
            .where(run_events.c.run_id == run_id, run_events.c.type == "log")
            .order_by(run_events.c.seq)
        )
        return [line for data in rows for line in data["lines"]]


async def with_secrets(world: World, run_id: UUID) -> None:
    """Seal `SECRETS` onto the run's repository, as run-api does."""
    async with world.owner.begin() as conn:
        repo_id = await conn.scalar(
            text("SELECT t.repo_id FROM runs r JOIN tasks t ON t.id = r.task_id WHERE r.id = :r"),
            {"r": run_id},
        )
        for name, (value, places) in SECRETS.items():
            sealed = world.ring.seal(value, secret_context(repo_id, name))
            await conn.execute(
                repo_secrets.insert().values(
                    repo_id=repo_id,
                    name=name,
                    inject_into=places,
                    key_id=sealed.key_id,
                    key_nonce=sealed.nonce,
                    key_ciphertext=sealed.ciphertext,
                    updated_by="t",
                )
            )


def secrets_context(world: World, allowed: list[str]) -> AttemptContext:
    """The worker's context with the repository secrets the operator allows in `allowed`."""
    opener = RepoSecrets(world.runner, world.ring, allowed)
    return replace(world.ctx, secrets=opener.for_run)


@pytest.mark.parametrize(
    ("allowed", "agent_saw"),
    [
        (["setup", "agent", "verify"], "|agent-value-2|"),
        (["setup", "verify"], "||"),  # the operator keeps secrets away from the agent
    ],
)
async def test_secrets_reach_only_their_places_and_are_masked_in_the_log(
    world: World, allowed: list[str], agent_saw: str
) -> None:
    setup = ['echo "setup sees $SETUP_ONLY [$AGENT_ONLY$VERIFY_ONLY]"']
    verify = ['echo "verify sees $VERIFY_ONLY [$SETUP_ONLY$AGENT_ONLY]"']
    (run_id,) = await submission(world, ["secrets"], setup, verify)
    await with_secrets(world, run_id)

    row = await execute(world, run_id, secrets_context(world, allowed))

    assert row["status"] == "succeeded", row["error"]
    home = world.ctx.workspaces.home_path(str(run_id))
    assert (home / "seen").read_text() == agent_saw
    lines = await log_lines(world, run_id)
    assert "setup sees *** []" in lines
    assert "verify sees *** []" in lines
    if "agent" in allowed:
        assert "agent sees ***" in lines
    async with world.owner.connect() as conn:
        recorded = str((await conn.execute(select(run_events.c.data))).all())
        verification = str(await conn.scalar(select(run_attempts.c.verification)))
    for value, _ in SECRETS.values():
        assert value not in recorded
        assert value not in verification
    assert "verify sees ***" in verification


async def test_a_turn_whose_changes_hold_a_secret_fails_and_stores_nothing(world: World) -> None:
    (run_id,) = await submission(world, ["leak"])
    await with_secrets(world, run_id)

    row = await execute(world, run_id, secrets_context(world, ["agent"]))

    assert row["status"] == "failed"
    assert str(row["error"]).startswith("secret_in_changes: "), row["error"]
    assert "AGENT_ONLY" in str(row["error"])
    assert (row["patch_uri"], row["bundle_uri"], row["commit_sha"]) == (None, None, None)
    assert not list((world.root / "artifacts").rglob("patch.diff"))


ENVIRONMENT_YML = """\
setup:
  - echo "setup from the repository's file"
  - echo "GREETING=from the file" >> "$DURSOR_ENV"
verify:
  - echo "verify from the repository's file"
"""


async def test_the_repository_file_gives_setup_and_verify_unless_the_api_set_them(
    world: World,
) -> None:
    remote = make_remote(
        world.root / "with-file",
        {"README.md": "# demo\n", ".dursor/environment.yml": ENVIRONMENT_YML},
    )
    (from_file,) = await submission(world, ["env"], remote=remote)
    (from_api,) = await submission(
        world,
        ["env"],
        ['echo "setup from the api"'],
        [],
        remote=make_remote(world.root / "api-wins", {".dursor/environment.yml": ENVIRONMENT_YML}),
    )

    file_row = await execute(world, from_file)
    api_row = await execute(world, from_api)

    assert file_row["status"] == "succeeded", file_row["error"]
    lines = await log_lines(world, from_file)
    assert "setup from the repository's file" in lines
    assert "verify from the repository's file" in lines
    worktree = world.ctx.workspaces.worktree_path(str(from_file))
    assert (worktree / "agent-saw.txt").read_text() == "from the file|"
    assert api_row["status"] == "succeeded", api_row["error"]
    lines = await log_lines(world, from_api)
    assert "setup from the api" in lines
    assert "setup from the repository's file" not in lines


async def test_an_invalid_environment_file_fails_the_run_with_its_reason(world: World) -> None:
    remote = make_remote(world.root / "broken", {".dursor/environment.yml": "setup: [echo\n"})
    (run_id,) = await submission(world, ["env"], remote=remote)

    row = await execute(world, run_id)

    assert row["status"] == "failed"
    assert str(row["error"]).startswith(
        "environment_invalid: .dursor/environment.yml: not valid YAML"
    ), row["error"]
    worktree = world.ctx.workspaces.worktree_path(str(run_id))
    assert not (worktree / "agent-saw.txt").exists()


INSTALL = [
    'echo "installing deps"; mkdir -p deps && echo "built at $(date +%s%N)" > deps/lib.txt',
    'echo "DEPS=ready" >> "$DURSOR_ENV"',
]


async def progress_of(world: World, run_id: UUID) -> list[str]:
    async with world.owner.connect() as conn:
        rows = await conn.scalars(
            select(run_events.c.data)
            .where(run_events.c.run_id == run_id, run_events.c.type == "progress")
            .order_by(run_events.c.seq)
        )
        return [data["message"] for data in rows]


async def test_an_unchanged_setup_is_restored_from_the_cache_and_a_lockfile_change_reruns_it(
    world: World,
) -> None:
    remote = make_remote(
        world.root / "cached",
        {".gitignore": "deps/\n", "uv.lock": "version = 1\n", "README.md": "# demo\n"},
    )
    ctx = replace(world.ctx, setup_cache=SetupCache(world.root / "setup-cache"))
    (first,) = await submission(world, ["deps"], INSTALL, [], remote=remote)
    (second,) = await submission(world, ["deps"], INSTALL, [], remote=remote)

    first_row = await execute(world, first, ctx)
    second_row = await execute(world, second, ctx)

    assert first_row["status"] == second_row["status"] == "succeeded"
    assert "installing deps" in await log_lines(world, first)
    assert any(p.startswith("setup cached (1 files") for p in await progress_of(world, first))
    # The second run got the first one's files and exports without running a command.
    assert "installing deps" not in await log_lines(world, second)
    steps = await progress_of(world, second)
    assert any(p.startswith("setup restored from the cache (1 files") for p in steps), steps
    saw = [
        (world.ctx.workspaces.worktree_path(str(run)) / "saw-deps.txt").read_text()
        for run in (first, second)
    ]
    assert saw[0] == saw[1]
    assert saw[1].endswith("\nready\n")
    patch = await world.ctx.artifacts.get(str(second_row["patch_uri"]))
    assert b"deps/lib.txt" not in patch  # ignored files stay out of the changes

    clone = world.root / "lock-change"
    git("clone", "-q", str(remote), str(clone), cwd=world.root)
    (clone / "uv.lock").write_text("version = 2\n")
    git("commit", "-q", "-am", "bump the lockfile", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    (third,) = await submission(world, ["deps"], INSTALL, [], remote=remote)

    third_row = await execute(world, third, ctx)

    assert third_row["status"] == "succeeded", third_row["error"]
    assert "installing deps" in await log_lines(world, third)
