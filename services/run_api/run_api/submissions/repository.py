"""SQL of run submissions: each CloudEvent id taken once, and the service identities named."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_optional
from dursor_store.schema import run_submissions, users


class IdentityRow(TableRow):
    """A user row as a submission's service identity."""

    issuer: str
    subject: str
    username: str
    role: str
    disabled: bool


async def take(conn: AsyncConnection, event_id: str, source: str) -> bool:
    """Record the submission's id; False when it was taken before (a duplicate)."""
    taken = await conn.scalar(
        insert(run_submissions)
        .values(event_id=event_id, source=source)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(run_submissions.c.event_id)
    )
    return taken is not None


async def record_task(
    conn: AsyncConnection, event_id: str, submitted_as: str, task_id: UUID
) -> None:
    """The task an accepted submission opened, and who it acted as."""
    await conn.execute(
        update(run_submissions)
        .where(run_submissions.c.event_id == event_id)
        .values(submitted_as=submitted_as, task_id=task_id)
    )


async def identity(conn: AsyncConnection, username: str) -> IdentityRow | None:
    """The user a submission names, if there is one."""
    statement = select(
        users.c.issuer, users.c.subject, users.c.username, users.c.role, users.c.disabled
    ).where(users.c.username == username)
    return await fetch_optional(conn, statement, IdentityRow)
