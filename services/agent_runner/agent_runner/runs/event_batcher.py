"""Turns an agent's output into few, ordered events: lines batched by size and by time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from uuid import UUID

import structlog
from sqlalchemy import select

from agent_runner.agents.executors.base import Stream
from dursor_contracts.events import ContractModel, EventType, LogData, ProgressData
from dursor_kit.db.outage import is_database_outage
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.run_rows import AttemptFence
from dursor_store.schema import runs

log = structlog.get_logger(__name__)

# How long an attempt waits for its database to come back before it gives up (a
# managed server's restart takes seconds; the lease fence keeps a late write harmless).
OUTAGE_BUDGET_SECONDS = 120.0
OUTAGE_PAUSE_SECONDS = 0.5


def _unchanged(text: str) -> str:
    return text


class EventBatcher:
    """The `AgentSink` of one attempt: buffers log lines, flushes every ~100 ms or 32 KB."""

    def __init__(
        self,
        transactions: Transactions,
        run_id: UUID,
        fence: AttemptFence,
        max_bytes: int,
        max_delay: float,
        head: int = 0,
    ) -> None:
        self._transactions = transactions
        # The seq of the last event this attempt wrote (0: not known).
        self._head = head
        self._run_id = run_id
        self._fence = fence
        self._max_bytes = max_bytes
        self._max_delay = max_delay
        self._pending: list[tuple[Stream, str]] = []
        self._pending_bytes = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed_flush: asyncio.Task[None] | None = None
        # Applied to every line and progress message (the repository's secrets masked).
        self.mask: Callable[[str], str] = _unchanged

    async def log(self, stream: Stream, line: str) -> None:
        """Buffer a line; flush now when the batch is full, else within `max_delay`."""
        line = self.mask(line)
        self._pending.append((stream, line))
        self._pending_bytes += len(line) + 1
        if self._pending_bytes >= self._max_bytes:
            await self.flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._max_delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        self._timed_flush = asyncio.ensure_future(self.flush())

    async def progress(self, message: str) -> None:
        """A progress event, after whatever output came before it."""
        await self.emit(EventType.PROGRESS, ProgressData(message=self.mask(message)))

    async def emit(self, event_type: EventType, data: ContractModel) -> None:
        """Flush buffered lines, then append one event."""
        async with self._lock:
            await self._write([*self._take_batches(), NewEvent(event_type, data)])

    async def flush(self) -> None:
        """Write buffered lines as `log` events (one per stream run of lines)."""
        async with self._lock:
            await self._write(self._take_batches())

    async def write_in(self, work: UnitOfWork, events: list[NewEvent]) -> None:
        """Append buffered lines and `events` inside the caller's unit of work (terminal)."""
        async with self._lock:
            batch = self._take_batches() + events
            written = await append_events(work, self._run_id, batch, self._fence)
            if written:
                self._head = written[-1].seq

    def _take_batches(self) -> list[NewEvent]:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batches: list[NewEvent] = []
        for stream, lines in _group_by_stream(self._pending):
            batches.append(NewEvent(EventType.LOG, LogData(stream=stream, lines=lines)))
        self._pending, self._pending_bytes = [], 0
        return batches

    async def _write(self, events: list[NewEvent]) -> None:
        """Append; while the database is away, wait for it and write once it is back."""
        if not events:
            return
        deadline = time.monotonic() + OUTAGE_BUDGET_SECONDS
        while True:
            try:
                async with self._transactions.begin() as work:
                    written = await append_events(work, self._run_id, events, self._fence)
                self._head = written[-1].seq
                return
            except Exception as exc:
                if not is_database_outage(exc) or time.monotonic() > deadline:
                    raise
                log.warning("event write waits for the database", error=repr(exc)[:200])
            if await self._landed(len(events)):
                return  # the commit went through; only its answer was lost

    async def _landed(self, count: int) -> bool:
        """Once the database answers: did the last write commit (the log moved by `count`)?

        Only this attempt appends to its run's log while it holds the lease, so the
        run's head is either where this batcher left it or `count` further.
        """
        while True:
            await asyncio.sleep(OUTAGE_PAUSE_SECONDS)
            try:
                async with self._transactions.engine.connect() as conn:
                    head = await conn.scalar(
                        select(runs.c.last_seq).where(runs.c.id == self._run_id)
                    )
            except Exception as exc:
                if not is_database_outage(exc):
                    raise
                continue
            if self._head and head == self._head + count:
                self._head = head
                return True
            return False

    async def close(self) -> None:
        """Stop the timer; pending lines are dropped only if the attempt lost its lease."""
        if self._timer is not None:
            self._timer.cancel()
        if self._timed_flush is not None:
            with contextlib.suppress(Exception):
                await self._timed_flush


def _group_by_stream(lines: list[tuple[Stream, str]]) -> list[tuple[Stream, list[str]]]:
    groups: list[tuple[Stream, list[str]]] = []
    for stream, line in lines:
        if groups and groups[-1][0] == stream:
            groups[-1][1].append(line)
        else:
            groups.append((stream, [line]))
    return groups
