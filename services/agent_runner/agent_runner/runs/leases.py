"""This worker's leases: claim runs, renew by heartbeat, end or release what it holds.

The writes themselves (compare-and-set on status, turn, attempt and lease owner) are the
store's (`dursor_store.run_lifecycle`); here is what one worker holds and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from dursor_contracts.events import RunStatus
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_store import run_lifecycle
from dursor_store.run_lifecycle import ClaimedRun
from dursor_store.run_rows import RunRef, TurnValues
from dursor_store.runs import pin_base_commit, renew_lease

# The claim's `running` goes out before the attempt's set-up (jail, git, subprocesses)
# competes with the relay for the loop and the cores; a slow sidecar delays it this long.
ANNOUNCE_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class Renewal:
    """The answer of a heartbeat: still ours, and whether someone asked to cancel."""

    cancel_reason: str | None


class RunLeases:
    """Claim, renew, end and release runs for one worker."""

    def __init__(self, transactions: Transactions, worker_id: str, lease_seconds: float) -> None:
        self.transactions = transactions
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._lease = timedelta(seconds=lease_seconds)

    async def claim(self, run_id: UUID, turn: int, attempt: int) -> ClaimedRun | None:
        """Take a queued run's given turn and attempt; None if someone else has it."""
        async with self.transactions.begin() as work:
            claimed = await run_lifecycle.claim(
                work, run_id, turn, attempt, self.worker_id, self._lease
            )
        await work.published(ANNOUNCE_WAIT_SECONDS)
        return claimed

    async def claim_next(self) -> ClaimedRun | None:
        """Take the oldest queued run nobody is claiming right now."""
        async with self.transactions.begin() as work:
            claimed = await run_lifecycle.claim_next(work, self.worker_id, self._lease)
        await work.published(ANNOUNCE_WAIT_SECONDS)
        return claimed

    async def pin_base(self, run: ClaimedRun, commit: str) -> str:
        """The submission's base commit: `commit` if no run of it had one pinned yet."""
        async with self.transactions.begin() as work:
            return await pin_base_commit(work.conn, run.id, commit)

    async def renew(self, run: ClaimedRun) -> Renewal | None:
        """Extend the lease; None when it is no longer ours (reaped or ended)."""
        async with self.transactions.begin() as work:
            row = await renew_lease(work.conn, run.id, run.fence(self.worker_id), self._lease)
        if row is None:
            return None
        reason = (row.cancel_reason or "cancel requested") if row.cancel_requested_at else None
        return Renewal(cancel_reason=reason)

    async def end(
        self, work: UnitOfWork, run: ClaimedRun, status: RunStatus, values: TurnValues
    ) -> bool:
        """Move the held run to a terminal status; False if the lease was lost meanwhile."""
        fence = run.fence(self.worker_id)
        return await run_lifecycle.end_turn(work, run.id, fence, status, values)

    async def release(self, run: ClaimedRun, reason: str) -> None:
        """Give a held run back (worker shutting down): next attempt, or failed if none is left."""
        held = RunRef(id=run.id, turn=run.turn, attempt=run.attempt, max_attempts=run.max_attempts)
        async with self.transactions.begin() as work:
            await run_lifecycle.requeue_or_fail(work, held, reason, lease_owner=self.worker_id)
