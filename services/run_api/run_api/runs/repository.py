"""SQL for a task's conversation: the instructions and follow-ups people sent."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all, fetch_one
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import messages

USER_ROLE = "user"


class MessageRow(TableRow):
    """One message of a task's (or one run's) conversation."""

    id: UUID
    task_id: UUID
    run_id: UUID | None
    turn: int | None
    role: str
    content: str
    created_by: str
    created_at: datetime


async def insert_message(
    conn: AsyncConnection,
    task_id: UUID,
    content: str,
    owner: str,
    run_id: UUID | None = None,
    turn: int | None = None,
) -> MessageRow:
    """A user message of a task (or of one run's turn)."""
    return await fetch_one(
        conn,
        insert(messages)
        .values(
            id=uuid4(),
            task_id=task_id,
            run_id=run_id,
            turn=turn,
            role=USER_ROLE,
            content=content,
            created_by=owner,
        )
        .returning(messages),
        MessageRow,
    )


async def list_messages(
    conn: AsyncConnection, task_id: UUID, run_id: UUID | None, cursor: str | None, limit: int
) -> list[MessageRow]:
    """A page of a task's (or run's) messages, newest first."""
    conditions = [messages.c.task_id == task_id, *after_cursor(messages, cursor)]
    if run_id is not None:
        conditions.append((messages.c.run_id == run_id) | messages.c.run_id.is_(None))
    query = select(messages).where(*conditions).order_by(*newest_first(messages)).limit(limit + 1)
    return await fetch_all(conn, query, MessageRow)
