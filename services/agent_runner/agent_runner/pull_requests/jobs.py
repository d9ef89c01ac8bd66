"""Pull-request work off the message path: handlers acknowledge, these tasks do the work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from uuid import UUID

import structlog

from agent_runner.pull_requests.ci_status import CiPoller
from agent_runner.pull_requests.loop import PullRequestLoop, advance_safely
from agent_runner.pull_requests.publisher import PullRequestPublisher
from dursor_contracts.pull_requests import PrWork

log = structlog.get_logger(__name__)


class PullRequestJobs:
    """Runs PR publications and CI polls as tracked background tasks, one poll at a time."""

    def __init__(
        self, publisher: PullRequestPublisher, poller: CiPoller, loop: PullRequestLoop
    ) -> None:
        self._publisher = publisher
        self._poller = poller
        self._loop = loop
        self._tasks: set[asyncio.Task[Any]] = set()
        self._polling: asyncio.Task[Any] | None = None

    def publish(self, pr_id: UUID, work: PrWork = PrWork.PUBLISH) -> None:
        """Push the run's branch and open/update its PR, or advance its loop, in the background."""
        if work is PrWork.LOOP:
            self._track(advance_safely(self._loop, pr_id), f"pr-loop-{pr_id}")
            return
        self._track(self._publish_and_advance(pr_id), f"pr-{pr_id}")

    async def _publish_and_advance(self, pr_id: UUID) -> None:
        """A push may finish a loop round (replies, the next trigger): advance after it."""
        await self._publisher.publish(pr_id)
        await advance_safely(self._loop, pr_id)

    def poll(self) -> bool:
        """Start a CI poll unless one is still running; True if started."""
        if self._polling is not None and not self._polling.done():
            return False
        self._polling = self._track(self._poller.poll_once(), "ci-poll")
        return True

    def _track(self, work: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pull request job failed", job=task.get_name(), error=repr(task.exception()))

    async def drain(self, timeout: float) -> None:
        """Let running jobs finish for `timeout`, then cancel the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in set(self._tasks):
            task.cancel()
