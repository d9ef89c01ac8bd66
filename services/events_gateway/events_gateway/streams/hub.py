"""In-process fan-out: every `run-events` message this replica receives goes to every stream.

Each event is encoded once per replica; a subscriber's buffer is bounded, and a
subscriber that falls behind is closed (it resumes from its last id) instead of
blocking the others or growing memory. Live delivery is only a fast path: streams fill
any gap from the Postgres event log, so an out-of-order or lost message costs latency,
never correctness.

The sidecar delivers messages concurrently, so a run's events can arrive out of order;
one overtaken event would make every stream of the run read the gap. The hub puts a
run's live events back in order once, for all streams: an event ahead of the next
expected one waits up to `REORDER_HOLD_SECONDS` for its predecessors, and a repeat of an
event the hub already fanned out is dropped here instead of waking every stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

import orjson

from dursor_contracts.events import RunEventV1
from events_gateway.metrics import GatewayMetrics

# Long enough for a message the sidecar delivered concurrently to catch up, short against
# the Postgres read each stream would otherwise make.
REORDER_HOLD_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event with its SSE payload encoded once for all subscribers."""

    run_id: UUID
    seq: int
    terminal: bool
    event_line: bytes
    data_line: bytes
    run_frame: bytes  # the whole frame of a run stream, whose `id:` is the seq


def encode(event: RunEventV1) -> EncodedEvent:
    """The `event:` and `data:` lines of an event; `id:` is added per stream kind."""
    body = {
        "run_id": str(event.run_id),
        "task_id": str(event.task_id),
        "seq": event.seq,
        "turn": event.turn,
        "attempt": event.attempt,
        "type": event.type.value,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }
    event_line = f"event: {event.type.value}\n".encode()
    # Sorted keys: an event replayed from Postgres (JSONB reorders keys) and the same
    # event received live must be byte-identical frames. orjson: one C call per event.
    data_line = b"data: " + orjson.dumps(body, option=orjson.OPT_SORT_KEYS) + b"\n\n"
    return EncodedEvent(
        run_id=event.run_id,
        seq=event.seq,
        terminal=event.type.is_terminal,
        event_line=event_line,
        data_line=data_line,
        run_frame=b"id: %d\n%b%b" % (event.seq, event_line, data_line),
    )


class Subscription:
    """One stream's bounded inbox."""

    __slots__ = ("_capacity", "_items", "_waiter", "overflowed")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        # A list, not a deque: an idle stream's empty list is 56 bytes, an empty deque 600.
        self._items: list[EncodedEvent] = []
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False

    def offer(self, event: EncodedEvent) -> bool:
        """Queue without blocking; False (and overflowed) once the buffer is full."""
        if len(self._items) >= self._capacity:
            self.overflowed = True
            self._wake()
            return False
        self._items.append(event)
        self._wake()
        return True

    def wake(self) -> None:
        """End a pending `wait` now (the client went away)."""
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def drain(self) -> list[EncodedEvent]:
        """Everything queued so far."""
        items, self._items = self._items, []
        return items

    async def wait(self, timeout: float) -> None:
        """Until something is queued, the buffer overflowed, or `timeout` passed."""
        if self._items or self.overflowed:
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        # A timer that ends the wait, not `asyncio.wait_for`: a thousand streams wake per
        # event, and wait_for's extra future and callbacks were a tenth of the gateway's CPU.
        timer = loop.call_later(timeout, _end_wait, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _end_wait(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class FanoutHub:
    """Routes encoded events to the subscriptions of their run and of their task."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._by_run: dict[UUID, set[Subscription]] = {}
        self._by_task: dict[UUID, set[Subscription]] = {}
        self._metrics = metrics
        # Highest seq known per watched run (live or replayed): the catch-up poller
        # compares it with Postgres to find events whose publish never arrived.
        self.heads: dict[UUID, int] = {}
        self._gap_reads: dict[tuple[UUID, int, int], asyncio.Future[list[EncodedEvent]]] = {}
        # Highest seq of a run this hub fanned out live, with nothing missing before it
        # that it could still wait for; events held back until their predecessors arrive.
        self._live_heads: dict[UUID, int] = {}
        self._held: dict[UUID, dict[int, RunEventV1]] = {}
        self._hold_timers: dict[UUID, asyncio.TimerHandle] = {}

    def watch_run(self, run_id: UUID, subscription: Subscription) -> None:
        """Deliver this run's events to `subscription`."""
        self._by_run.setdefault(run_id, set()).add(subscription)

    def watch_task(self, task_id: UUID, subscription: Subscription) -> None:
        """Deliver every event of the task's runs to `subscription`."""
        self._by_task.setdefault(task_id, set()).add(subscription)

    def unwatch(self, key: UUID, subscription: Subscription) -> None:
        """Stop delivering to `subscription` (run or task key)."""
        for index in (self._by_run, self._by_task):
            subscribers = index.get(key)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del index[key]

    @property
    def watched_runs(self) -> list[UUID]:
        """Runs at least one run stream is watching."""
        return list(self._by_run)

    @property
    def watched_tasks(self) -> list[UUID]:
        """Tasks at least one task stream is watching."""
        return list(self._by_task)

    async def read_gap(
        self,
        run_id: UUID,
        after: int,
        count: int,
        read: Callable[[], Awaitable[list[EncodedEvent]]],
    ) -> list[EncodedEvent]:
        """Events `after+1 … after+count` of a run, read once for every stream missing them.

        An event that overtakes its predecessor reaches every stream of the run at once;
        without this, a thousand streams would each query Postgres for the same gap.
        """
        key = (run_id, after, count)
        pending = self._gap_reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._gap_reads[key] = pending
            pending.add_done_callback(lambda _: self._gap_reads.pop(key, None))
        # Shielded: a client hanging up must not cancel the read the others wait for.
        return await asyncio.shield(pending)

    def note_head(self, run_id: UUID, seq: int) -> None:
        """Remember that events up to `seq` of a run exist (seen live or replayed)."""
        if seq > self.heads.get(run_id, 0):
            self.heads[run_id] = seq

    def forget_heads_except(self, keep: set[UUID]) -> None:
        """Drop heads of runs nobody watches any more (bounded memory)."""
        for run_id in self.heads.keys() - keep:
            del self.heads[run_id]
        for run_id in self._live_heads.keys() - keep - self._held.keys():
            del self._live_heads[run_id]

    def publish(self, event: RunEventV1) -> None:
        """Fan out in per-run order: hold an early event a moment, drop a repeated one."""
        if not self._watched(event):
            return
        live_head = self._live_heads.get(event.run_id)
        if live_head is not None and event.seq <= live_head:
            return  # every stream had it live, or reads it from Postgres (committed first)
        expected = self._expected(event.run_id, live_head)
        if expected is not None and event.seq > expected and self._hold(event):
            return
        self._live_heads[event.run_id] = event.seq
        self._fan_out(event)
        self._release_next(event.run_id)

    def _watched(self, event: RunEventV1) -> bool:
        return event.run_id in self._by_run or event.task_id in self._by_task

    def _expected(self, run_id: UUID, live_head: int | None) -> int | None:
        """The next seq this hub should see; before its first live event, after the replays'."""
        if live_head is not None:
            return live_head + 1
        replayed = self.heads.get(run_id)
        return replayed + 1 if replayed is not None else None

    def _hold(self, event: RunEventV1) -> bool:
        """Keep an early event back (False when there is no loop to release it later)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if event.run_id not in self._held:
            self._held[event.run_id] = {}
            self._hold_timers[event.run_id] = loop.call_later(
                REORDER_HOLD_SECONDS, self._release_all, event.run_id
            )
        self._held[event.run_id][event.seq] = event
        return True

    def _release_next(self, run_id: UUID) -> None:
        """Fan out held events that are now in order; stop waiting once none is left."""
        held = self._held.get(run_id)
        if held is None:
            return
        while following := held.pop(self._live_heads[run_id] + 1, None):
            self._live_heads[run_id] = following.seq
            self._fan_out(following)
        if not held:
            del self._held[run_id]
            self._hold_timers.pop(run_id).cancel()

    def _release_all(self, run_id: UUID) -> None:
        """The wait is over: fan out what is held, in order; streams read what is missing."""
        self._hold_timers.pop(run_id, None)
        held = self._held.pop(run_id, {})
        self._fan_out_in_order(run_id, (held[seq] for seq in sorted(held)))

    def _fan_out_in_order(self, run_id: UUID, events: Iterable[RunEventV1]) -> None:
        for event in events:
            if event.seq > self._live_heads.get(run_id, 0):
                self._live_heads[run_id] = event.seq
                self._fan_out(event)

    def _fan_out(self, event: RunEventV1) -> None:
        """Encode once and offer to every interested subscription."""
        targets = [*self._by_run.get(event.run_id, ()), *self._by_task.get(event.task_id, ())]
        if not targets:
            return
        self.note_head(event.run_id, event.seq)
        encoded = encode(event)
        for subscription in targets:
            if subscription.offer(encoded):
                self._metrics.events_delivered.add(1)
