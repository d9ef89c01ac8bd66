"""SQL for dead letters: each undelivered or refused message recorded once, by topic and id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all
from dursor_store.schema import dead_letters


class DeadLetterRow(TableRow):
    """A recorded dead letter."""

    id: int
    topic: str
    event_id: str
    run_id: UUID | None
    payload: dict[str, Any]
    reason: str | None
    received_at: datetime


async def insert_dead_letter(
    conn: AsyncConnection,
    topic: str,
    event_id: str,
    run_id: UUID | None,
    payload: dict[str, Any],
    reason: str | None = None,
) -> int | None:
    """Record the message; None if it was already recorded."""
    inserted: int | None = await conn.scalar(
        insert(dead_letters)
        .values(topic=topic, event_id=event_id, run_id=run_id, payload=payload, reason=reason)
        .on_conflict_do_nothing(index_elements=["topic", "event_id"])
        .returning(dead_letters.c.id)
    )
    return inserted


async def list_dead_letters(
    conn: AsyncConnection, topic: str | None, before_id: int | None, limit: int
) -> list[DeadLetterRow]:
    """A page of dead letters, newest first (limit + 1 rows to detect a next page)."""
    conditions = []
    if topic is not None:
        conditions.append(dead_letters.c.topic == topic)
    if before_id is not None:
        conditions.append(dead_letters.c.id < before_id)
    query = select(dead_letters).where(*conditions).order_by(dead_letters.c.id.desc())
    return await fetch_all(conn, query.limit(limit + 1), DeadLetterRow)
