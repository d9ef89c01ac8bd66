"""SQL for users and their role bindings."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.auth import Role
from dursor_contracts.db import one_or_none
from dursor_contracts.schema import users


async def user_by_username(conn: AsyncConnection, issuer: str, username: str) -> Row[Any] | None:
    """A local user by name."""
    return await one_or_none(
        conn, select(users).where(users.c.issuer == issuer, users.c.username == username)
    )


async def user_by_subject(conn: AsyncConnection, issuer: str, subject: str) -> Row[Any] | None:
    """A user by issuer and subject (the token's identity)."""
    return await one_or_none(
        conn, select(users).where(users.c.issuer == issuer, users.c.subject == subject)
    )


async def ensure_local_user(
    conn: AsyncConnection, issuer: str, username: str, role: Role, password_hash: str
) -> None:
    """Create the user if missing; an existing user keeps its password and role."""
    user_id = uuid4()
    await conn.execute(
        insert(users)
        .values(
            id=user_id,
            issuer=issuer,
            subject=str(user_id),
            username=username,
            display_name=username,
            role=role.value,
            password_hash=password_hash,
        )
        .on_conflict_do_nothing()
    )


async def set_role(conn: AsyncConnection, user_id: UUID, role: Role) -> Row[Any] | None:
    """Bind a user to a role."""
    return await one_or_none(
        conn, update(users).where(users.c.id == user_id).values(role=role.value).returning(users)
    )
