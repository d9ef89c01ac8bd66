"""SQL for dead letters: each undelivered message recorded once, by topic and id."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_store.schema import dead_letters


async def insert_dead_letter(
    conn: AsyncConnection, topic: str, event_id: str, run_id: UUID | None, payload: dict[str, Any]
) -> UUID | None:
    """Record the message; None if it was already recorded."""
    inserted: UUID | None = await conn.scalar(
        insert(dead_letters)
        .values(topic=topic, event_id=event_id, run_id=run_id, payload=payload)
        .on_conflict_do_nothing(index_elements=["topic", "event_id"])
        .returning(dead_letters.c.id)
    )
    return inserted
