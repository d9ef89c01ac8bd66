"""Worktrees of finished runs are kept for a while (follow-ups reuse them), then removed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import structlog

from agent_runner.git.workspaces import Workspaces

log = structlog.get_logger(__name__)


async def clean_worktrees_forever(
    workspaces: Workspaces,
    active_runs: Callable[[], list[UUID]],
    retention_seconds: float,
    interval_seconds: float,
) -> None:
    """Remove worktrees untouched for the retention period, never those of running runs."""
    while True:
        try:
            keep = [str(run_id) for run_id in active_runs()]
            if removed := await workspaces.remove_older_than(retention_seconds, keep):
                log.info("removed old worktrees", count=removed)
        except Exception:
            log.exception("worktree clean-up failed")
        await asyncio.sleep(interval_seconds)
