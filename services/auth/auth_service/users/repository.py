"""SQL for users and their role bindings."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.auth.verifier import Principal, Role
from dursor_kit.db.rows import TableRow, fetch_all, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import users


class UserRow(TableRow):
    """A user and its role binding."""

    id: UUID
    issuer: str
    subject: str
    username: str
    display_name: str
    role: str
    password_hash: str | None
    disabled: bool
    role_pinned: bool
    created_at: datetime


async def user_by_username(conn: AsyncConnection, issuer: str, username: str) -> UserRow | None:
    """A local user by name."""
    statement = select(users).where(users.c.issuer == issuer, users.c.username == username)
    return await fetch_optional(conn, statement, UserRow)


async def user_by_subject(conn: AsyncConnection, issuer: str, subject: str) -> UserRow | None:
    """A user by issuer and subject (the token's identity)."""
    statement = select(users).where(users.c.issuer == issuer, users.c.subject == subject)
    return await fetch_optional(conn, statement, UserRow)


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


async def set_role(conn: AsyncConnection, user_id: UUID, role: Role) -> UserRow | None:
    """Bind a user to a role: from now on it caps every token of the user."""
    return await fetch_optional(
        conn,
        update(users)
        .where(users.c.id == user_id)
        .values(role=role.value, role_pinned=True)
        .returning(users),
        UserRow,
    )


async def set_disabled(conn: AsyncConnection, user_id: UUID, disabled: bool) -> UserRow | None:
    """Disable (every token of the user is refused) or re-enable a user."""
    return await fetch_optional(
        conn,
        update(users).where(users.c.id == user_id).values(disabled=disabled).returning(users),
        UserRow,
    )


async def lock_active_admins(conn: AsyncConnection) -> set[UUID]:
    """The ids of every enabled Admin, row-locked until the transaction ends."""
    # Locking them all serializes two Admins demoting each other at the same moment.
    query = (
        select(users.c.id)
        .where(users.c.role == Role.ADMIN.value, users.c.disabled.is_(False))
        .with_for_update()
    )
    return set((await conn.execute(query)).scalars())


async def grant_admin(conn: AsyncConnection, issuer: str, username: str) -> UserRow | None:
    """Make a user an enabled, pinned Admin (the break-glass path); None if no such user."""
    return await fetch_optional(
        conn,
        update(users)
        .where(users.c.issuer == issuer, users.c.username == username)
        .values(role=Role.ADMIN.value, role_pinned=True, disabled=False)
        .returning(users),
        UserRow,
    )


async def user_by_id(conn: AsyncConnection, user_id: UUID) -> UserRow | None:
    """One user."""
    return await fetch_optional(conn, select(users).where(users.c.id == user_id), UserRow)


async def list_users(conn: AsyncConnection, cursor: str | None, limit: int) -> list[UserRow]:
    """A page of users, newest first (limit + 1 rows to detect a next page)."""
    query = (
        select(users)
        .where(*after_cursor(users, cursor))
        .order_by(*newest_first(users))
        .limit(limit + 1)
    )
    return await fetch_all(conn, query, UserRow)


async def insert_user(conn: AsyncConnection, values: dict[str, Any]) -> UserRow | None:
    """A new user, or None if the username or identity is taken."""
    statement = insert(users).values(id=uuid4(), **values).on_conflict_do_nothing()
    return await fetch_optional(conn, statement.returning(users), UserRow)


async def ensure_bound(conn: AsyncConnection, principal: Principal) -> UserRow:
    """The user row of the caller's identity, recorded with its role on first sight.

    A row an Admin did not pin follows the role the identity's issuer grants now (seen
    on a password or Entra token, never on an API token, whose role is only a subset),
    so that the row, which caps the user's API tokens, tracks promotions and demotions.
    """
    issuer, subject, role = principal.issuer, principal.subject, principal.role.value
    await conn.execute(
        insert(users)
        .values(
            id=uuid4(),
            issuer=issuer,
            subject=subject,
            username=f"{principal.username}@{issuer}",
            display_name=principal.username,
            role=role,
            role_pinned=False,
        )
        .on_conflict_do_nothing()
    )
    if principal.api_token_id is None:
        await conn.execute(
            update(users)
            .where(
                users.c.issuer == issuer,
                users.c.subject == subject,
                users.c.role_pinned.is_(False),
                users.c.role != role,
            )
            .values(role=role)
        )
    found = await user_by_subject(conn, issuer, subject)
    assert found is not None
    return found
