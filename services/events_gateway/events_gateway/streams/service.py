"""SSE streams with exact resume: subscribe first, replay from Postgres, then go live.

Every frame carries `id:`; a run stream's id is the event's `seq`, a task stream's id
is a cursor holding each run's last seq (`<run-hex>:<seq>,…`). Because the stream
subscribes to the hub before it reads the log, an event lands in the replay, in the
live inbox, or in both; per-run sequence numbers drop the duplicates and gaps are read
from Postgres, so a client sees every event once and in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dursor_kit.web.problems import bad_request
from dursor_store.eventlog import read_events
from events_gateway.metrics import GatewayMetrics
from events_gateway.streams.handoff import HANDOFF
from events_gateway.streams.hub import EncodedEvent, FanoutHub, Subscription, encode
from events_gateway.streams.repository import run_progress, task_run_ids

log = structlog.get_logger(__name__)
PING = b": ping\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]
# Is the stream's caller still allowed to watch (not disabled, API token not revoked)?
CallerCheck = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class StreamConfig:
    """Timing and buffer sizes of every stream of a replica."""

    ping_seconds: float
    retry_ms: int
    max_lifetime_seconds: float
    buffer: int
    replay_page: int


def parse_run_cursor(raw: str | None, last_seq: int) -> int:
    """The seq after which a run stream resumes; 400 for ids this run never issued."""
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or len(raw) > 18:
        raise bad_request(
            "invalid-last-event-id", "Last-Event-ID must be a run event seq", "Last-Event-ID"
        )
    seq = int(raw)
    if seq > last_seq:
        raise bad_request(
            "foreign-last-event-id", "Last-Event-ID is not an event of this run", "Last-Event-ID"
        )
    return seq


def parse_task_cursor(raw: str | None, run_heads: dict[UUID, int]) -> dict[UUID, int]:
    """Per-run seqs of a task stream's cursor; 400 for malformed or foreign entries."""
    cursor = dict.fromkeys(run_heads, 0)
    if raw is None or raw == "":
        return cursor
    for part in raw.split(","):
        run_hex, _, seq_text = part.partition(":")
        try:
            run_id = UUID(hex=run_hex)
        except ValueError as exc:
            raise bad_request(
                "invalid-last-event-id", "malformed task stream cursor", "Last-Event-ID"
            ) from exc
        if not seq_text.isdigit() or len(seq_text) > 18:
            raise bad_request(
                "invalid-last-event-id", "malformed task stream cursor", "Last-Event-ID"
            )
        if run_id not in run_heads or int(seq_text) > run_heads[run_id]:
            raise bad_request(
                "foreign-last-event-id",
                "the cursor names an event that is not of this task",
                "Last-Event-ID",
            )
        cursor[run_id] = int(seq_text)
    return cursor


def encode_task_cursor(delivered: dict[UUID, int]) -> str:
    """The task stream id: every run's last delivered seq."""
    return ",".join(f"{run_id.hex}:{seq}" for run_id, seq in delivered.items() if seq)


class EventStream(Response):
    """An ASGI response streaming one run (or every run of one task) as SSE."""

    def __init__(
        self,
        engine: AsyncEngine,
        hub: FanoutHub,
        metrics: GatewayMetrics,
        config: StreamConfig,
        key: UUID,
        delivered: dict[UUID, int],
        task_stream: bool,
        caller_allowed: CallerCheck | None = None,
    ) -> None:
        self._engine = engine
        self._hub = hub
        self._metrics = metrics
        self._config = config
        self._key = key
        self._delivered = delivered
        self._task_stream = task_stream
        self._caller_allowed = caller_allowed
        self._caller_checked_at = time.monotonic()
        self._subscription = Subscription(config.buffer)
        self._done = False
        self._watching = False
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Subscribe and send headers; the rest here, or after the chain if handed off."""
        self._watch()
        self._metrics.open_streams.add(1)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await self._write(send, f"retry: {self._config.retry_ms}\n\n".encode())
        except BaseException:
            self.abandon()
            raise
        handoff: list[object] | None = scope.get(HANDOFF)
        if handoff is not None:
            handoff.append(self)
            return
        await self.run(receive, send)

    async def run(self, receive: Receive, send: Send) -> None:
        """Replay, then relay live events until an end; let go of the subscription after."""
        disconnected = asyncio.ensure_future(_disconnect(receive, self._subscription))
        try:
            await self._replay(send)
            if not self._task_stream and not self._done and await self._ended_and_seen():
                # Events after the turn's terminal event (PR, CI notes) were the last ones.
                self._done = True
                await self._write(send, b"", more=False)
            await self._live(send, disconnected)
        finally:
            disconnected.cancel()
            self.abandon()
            if not self._done:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def abandon(self) -> None:
        """Stop watching (once): the stream is over or never got going."""
        if self._watching:
            self._watching = False
            self._hub.unwatch(self._key, self._subscription)
            self._metrics.closed_streams.add(1)

    def _watch(self) -> None:
        self._watching = True
        if self._task_stream:
            self._hub.watch_task(self._key, self._subscription)
        else:
            self._hub.watch_run(self._key, self._subscription)

    async def _replay(self, send: Send) -> None:
        self._metrics.replays.add(1)
        for run_id in await self._replay_runs():
            while not self._done:
                events = await self._read(
                    run_id, self._delivered.get(run_id, 0), self._config.replay_page
                )
                self._metrics.events_replayed.add(len(events))
                await self._deliver(send, events)
                if len(events) < self._config.replay_page:
                    break
            self._hub.note_head(run_id, self._delivered.get(run_id, 0))

    async def _ended_and_seen(self) -> bool:
        async with self._engine.connect() as conn:
            run = await run_progress(conn, self._key)
        return (
            run is not None
            and run.status.is_terminal
            and (self._delivered.get(self._key, 0) >= run.last_seq)
        )

    async def _replay_runs(self) -> list[UUID]:
        if not self._task_stream:
            return [self._key]
        async with self._engine.connect() as conn:
            return await task_run_ids(conn, self._key)

    async def _read(self, run_id: UUID, after: int, limit: int) -> list[EncodedEvent]:
        async with self._engine.connect() as conn:
            return [encode(e) for e in await read_events(conn, run_id, after, limit)]

    async def _live(self, send: Send, disconnected: asyncio.Future[None]) -> None:
        deadline = time.monotonic() + self._config.max_lifetime_seconds
        while not self._done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self._tell_to_reconnect(send)
                return
            await self._subscription.wait(min(self._config.ping_seconds, remaining))
            if disconnected.done() or not await self._caller_still_allowed():
                return
            if self._subscription.overflowed:
                self._metrics.dropped_slow_clients.add(1)
                return
            items = self._subscription.drain()
            if not items:
                await self._write(send, PING)
                continue
            await self._deliver_live(send, items)

    async def _caller_still_allowed(self) -> bool:
        """Re-checked once per ping period: a user disabled mid-stream is cut off."""
        if self._caller_allowed is None:
            return True
        if time.monotonic() - self._caller_checked_at < self._config.ping_seconds:
            return True
        self._caller_checked_at = time.monotonic()
        try:
            return await self._caller_allowed()
        except Exception as exc:  # e.g. the database is away: end it, the client resumes
            log.warning("stream caller check failed", error=repr(exc))
            return False

    async def _deliver_live(self, send: Send, items: list[EncodedEvent]) -> None:
        if self._without_gaps(items):  # the usual case: one write for all of them
            await self._deliver(send, items)
            return
        for item in items:
            if self._done:
                return
            expected = self._delivered.get(item.run_id, 0) + 1
            if item.seq < expected:
                continue
            if item.seq > expected:
                self._metrics.gaps_filled.add(1)
                missing = item.seq - expected
                read = partial(self._read, item.run_id, expected - 1, missing)
                gap = await self._hub.read_gap(item.run_id, expected - 1, missing, read)
                await self._deliver(send, gap)
            await self._deliver(send, [item])

    def _without_gaps(self, items: list[EncodedEvent]) -> bool:
        """Whether every item follows what came before it (repeats aside)."""
        heads: dict[UUID, int] = {}
        for item in items:
            head = heads.get(item.run_id) or self._delivered.get(item.run_id, 0)
            if item.seq > head + 1:
                return False
            heads[item.run_id] = max(head, item.seq)
        return True

    async def _deliver(self, send: Send, events: Iterable[EncodedEvent]) -> None:
        chunks: list[bytes] = []
        for event in events:
            if event.seq != self._delivered.get(event.run_id, 0) + 1:
                continue
            self._delivered[event.run_id] = event.seq
            if self._task_stream:
                chunks += [self._task_id_line(), event.event_line, event.data_line]
            else:  # encoded once for every run stream
                chunks.append(event.run_frame)
            if event.terminal and not self._task_stream:
                self._done = True
                break
        if chunks:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            await self._write(send, body, more=not self._done)

    def _task_id_line(self) -> bytes:
        return f"id: {encode_task_cursor(self._delivered)}\n".encode()

    async def _tell_to_reconnect(self, send: Send) -> None:
        last = (
            encode_task_cursor(self._delivered)
            if self._task_stream
            else str(self._delivered.get(self._key, 0))
        )
        frame = f"id: {last}\nevent: reconnect\ndata: {{}}\n\n".encode()
        self._done = True
        await self._write(send, frame, more=False)

    async def _write(self, send: Send, body: bytes, more: bool = True) -> None:
        await send({"type": "http.response.body", "body": body, "more_body": more})


async def _disconnect(receive: Receive, subscription: Subscription) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.wake()
