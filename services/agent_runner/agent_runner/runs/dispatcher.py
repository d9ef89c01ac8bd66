"""Bounded concurrency per worker: take runs while slots are free, heartbeat, cancel, drain.

A `run-requested` message is a hint; Postgres is the queue. With a free slot the handler
claims that run and acknowledges; without one it acknowledges anyway and the run stays
queued, because every worker pulls the oldest queued run whenever a slot frees up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import structlog

from agent_runner.agents.executors.base import Credential
from agent_runner.glibc_malloc import trim_free_memory
from agent_runner.runs.attempt import AttemptContext, AttemptStopped, RunAttempt
from dursor_contracts.events import RunRequestedV1, RunStatus
from dursor_store.run_lifecycle import ClaimedRun

log = structlog.get_logger(__name__)

CredentialResolver = Callable[[ClaimedRun], Awaitable[Credential | None]]


@dataclass
class _Active:
    attempt: RunAttempt
    task: asyncio.Task[None]


class Dispatcher:
    """Owns this worker's slots and the tasks running in them."""

    def __init__(
        self,
        ctx: AttemptContext,
        max_concurrency: int,
        pull_interval: float,
        resolve_credential: CredentialResolver,
    ) -> None:
        self._ctx = ctx
        self._max = max_concurrency
        self._pull_interval = pull_interval
        self._resolve_credential = resolve_credential
        self._active: dict[UUID, _Active] = {}
        self._reserved = 0
        self._accepting = True
        self._slot_freed = asyncio.Event()

    @property
    def active_run_ids(self) -> list[UUID]:
        """Runs executing on this worker now."""
        return list(self._active)

    def _has_free_slot(self) -> bool:
        return self._accepting and len(self._active) + self._reserved < self._max

    async def offer(self, request: RunRequestedV1) -> None:
        """Claim the requested run if a slot is free; otherwise leave it queued."""
        if not self._has_free_slot():
            log.info("no free slot; run stays queued", run_id=str(request.run_id))
            # A slot may free up any moment: look again at once, not only on the timer.
            self._slot_freed.set()
            return
        await self._claim_into_slot(
            lambda: self._ctx.leases.claim(request.run_id, request.turn, request.attempt)
        )

    async def pull_forever(self) -> None:
        """Fill free slots with the oldest queued runs, on a timer and when a slot frees."""
        while True:
            while self._has_free_slot():
                if not await self._claim_into_slot(self._ctx.leases.claim_next):
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), self._pull_interval)
            self._slot_freed.clear()

    async def _claim_into_slot(self, claim: Callable[[], Awaitable[ClaimedRun | None]]) -> bool:
        self._reserved += 1
        try:
            run = await claim()
        except Exception:
            log.exception("claim failed")
            return False
        finally:
            self._reserved -= 1
        if run is None:
            return False
        await self._start(run)
        return True

    async def _start(self, run: ClaimedRun) -> None:
        try:
            credential = await self._resolve_credential(run)
        except Exception:
            log.exception("credential unavailable", run_id=str(run.id))
            credential = None
        attempt = RunAttempt(self._ctx, run, credential)
        task = asyncio.create_task(self._supervised(attempt), name=f"run-{run.id}")
        self._active[run.id] = _Active(attempt, task)

    async def _supervised(self, attempt: RunAttempt) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(attempt))
        try:
            await attempt.execute()
        finally:
            heartbeat.cancel()
            self._active.pop(attempt.run.id, None)
            self._slot_freed.set()
            trim_free_memory()  # what the run freed is returned, not kept by malloc

    async def _heartbeat(self, attempt: RunAttempt) -> None:
        lease = self._ctx.leases.lease_seconds
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(lease / 3)
            asked = time.monotonic()
            try:
                # A slow answer is fine while the lease lasts; past it, another attempt
                # may own the run, so the wait ends there.
                remaining = max(lease - (asked - renewed), 0.01)
                renewal = await asyncio.wait_for(self._ctx.leases.renew(attempt.run), remaining)
            except Exception:
                log.exception("lease renewal failed", run_id=str(attempt.run.id))
                if time.monotonic() - renewed >= lease:
                    # The reaper may have handed the run to another attempt by now: stop
                    # the agent and write nothing more.
                    self._stop(
                        attempt.run.id,
                        AttemptStopped.fenced_out(f"no lease renewal for {lease:.0f} s"),
                    )
                    return
                continue
            renewed = asked  # the database counts the new lease from about then
            if renewal is None:
                self._stop(attempt.run.id, AttemptStopped.fenced_out("lease lost"))
                return
            if renewal.cancel_reason:
                self._stop(
                    attempt.run.id, AttemptStopped(RunStatus.CANCELLED, renewal.cancel_reason)
                )
                return

    def cancel(self, run_id: UUID, reason: str) -> bool:
        """Stop a run of this worker; True if it was running here."""
        return self._stop(run_id, AttemptStopped(RunStatus.CANCELLED, reason))

    def _stop(self, run_id: UUID, stop: AttemptStopped) -> bool:
        active = self._active.get(run_id)
        if active is None:
            return False
        if active.attempt.stop_reason is None:
            active.attempt.stop_reason = stop
            active.task.cancel()
        return True

    async def drain(self, timeout: float) -> None:
        """Stop taking runs, let running ones finish for `timeout`, release the rest."""
        self._accepting = False
        tasks = [a.task for a in self._active.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for run_id in list(self._active):
            self._stop(run_id, AttemptStopped(None, "worker shut down"))
        remaining = [a.task for a in self._active.values()]
        if remaining:
            await asyncio.wait(remaining)
