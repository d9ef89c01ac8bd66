"""A run cancelled while it waits for the repository's clone never leaves that clone locked."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent_runner.git.workspaces import Workspaces
from tests.support.git_remote import make_remote


async def test_cancel_while_waiting_for_the_mirror_lock_releases_nothing_twice(
    tmp_path: Path,
) -> None:
    url = f"file://{make_remote(tmp_path / 'remote')}"
    workspaces = Workspaces(tmp_path / "ws")
    await workspaces.sync_mirror(url)
    mirror = workspaces.mirror_path(url)
    other_process = Workspaces(tmp_path / "ws")  # its own asyncio locks, like another worker

    async with other_process._mirror_locked(mirror):
        waiting = asyncio.create_task(workspaces.prepare(url, "run-a", "dursor/a", "main", None))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)

    worktree = await asyncio.wait_for(
        workspaces.prepare(url, "run-b", "dursor/b", "main", None), timeout=10
    )
    assert (worktree / "README.md").exists()
