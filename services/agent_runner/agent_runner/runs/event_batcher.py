"""Turns an agent's output into few, ordered events: lines batched by size and by time."""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from agent_runner.agents.executors.base import Stream
from dursor_contracts.events import ContractModel, EventType, LogData, ProgressData
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.run_rows import AttemptFence


class EventBatcher:
    """The `AgentSink` of one attempt: buffers log lines, flushes every ~100 ms or 32 KB."""

    def __init__(
        self,
        transactions: Transactions,
        run_id: UUID,
        fence: AttemptFence,
        max_bytes: int,
        max_delay: float,
    ) -> None:
        self._transactions = transactions
        self._run_id = run_id
        self._fence = fence
        self._max_bytes = max_bytes
        self._max_delay = max_delay
        self._pending: list[tuple[Stream, str]] = []
        self._pending_bytes = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed_flush: asyncio.Task[None] | None = None

    async def log(self, stream: Stream, line: str) -> None:
        """Buffer a line; flush now when the batch is full, else within `max_delay`."""
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
        await self.emit(EventType.PROGRESS, ProgressData(message=message))

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
            await append_events(work, self._run_id, self._take_batches() + events, self._fence)

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
        if not events:
            return
        async with self._transactions.begin() as work:
            await append_events(work, self._run_id, events, self._fence)

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
