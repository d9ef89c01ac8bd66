"""Notes on a run's event log about what GitHub told (CI, pull request state, the loop)."""

from __future__ import annotations

from uuid import UUID

from dursor_contracts.events import EventType, ProgressData
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_store.eventlog import NewEvent, append_events


async def note(work: UnitOfWork, run_id: UUID, message: str, step: str = "loop") -> None:
    """One progress event on the run, so its stream shows what happened on GitHub."""
    await append_events(
        work, run_id, [NewEvent(EventType.PROGRESS, ProgressData(message=message, step=step))]
    )
