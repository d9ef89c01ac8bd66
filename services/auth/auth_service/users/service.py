"""Rules on users: an enabled Admin always remains, and nobody disables themself."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from auth_service.users.repository import UserRow, lock_active_admins
from dursor_kit.auth.verifier import Principal
from dursor_kit.web.problems import conflict


async def keep_an_admin(conn: AsyncConnection, user_id: UUID) -> None:
    """Refuse a change that would leave no enabled Admin (nobody could undo it)."""
    if await lock_active_admins(conn) == {user_id}:
        raise conflict(
            "this is the last enabled Admin: make another user Admin first "
            "(operators: `python -m auth_service.restore_admin` when none is left)"
        )


def is_caller(user: UserRow, principal: Principal) -> bool:
    """True if `user` is the caller themself."""
    return bool(user.issuer == principal.issuer and user.subject == principal.subject)
