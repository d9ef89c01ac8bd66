"""Safety net for lost publishes: compare watched runs with Postgres and replay what is missing."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.eventlog import read_events
from events_gateway.streams.hub import FanoutHub
from events_gateway.streams.repository import heads_of

log = structlog.get_logger(__name__)


async def catch_up_once(engine: AsyncEngine, hub: FanoutHub) -> int:
    """Publish into the hub every event past a watched run's known head; returns the count."""
    watched_runs, watched_tasks = hub.watched_runs, hub.watched_tasks
    if not watched_runs and not watched_tasks:
        hub.forget_heads_except(set())
        return 0
    published = 0
    async with engine.connect() as conn:
        rows = await heads_of(conn, watched_runs, watched_tasks)
        for row in rows:
            head = hub.heads.get(row.id)
            if head is None:
                hub.note_head(row.id, row.last_seq)
                continue
            if row.last_seq > head:
                for event in await read_events(conn, row.id, head, row.last_seq - head):
                    hub.publish(event)
                    published += 1
    hub.forget_heads_except({row.id for row in rows})
    return published


async def catch_up_forever(engine: AsyncEngine, hub: FanoutHub, interval: float) -> None:
    """Run `catch_up_once` on a timer; failures are logged and retried next round."""
    while True:
        await asyncio.sleep(interval)
        try:
            if count := await catch_up_once(engine, hub):
                log.warning("replayed events whose publish never arrived", count=count)
        except Exception:
            log.exception("catch-up round failed")
