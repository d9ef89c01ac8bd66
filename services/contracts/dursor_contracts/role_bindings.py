"""What the shared database says about callers: role bindings and live API tokens.

Every service verifies tokens itself; these lookups let it honour an Admin's role
binding for a user whose token carries no role, and the revocation of an API token,
the moment either changes.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.auth import ROLE_NAMES, Role
from dursor_contracts.schema import api_tokens, users


class DatabaseAuthority:
    """Role bindings (users table) and API-token state (api_tokens table)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def role_of(self, issuer: str, subject: str) -> Role | None:
        """The role bound to this identity, unless the user is disabled or unknown."""
        async with self._engine.connect() as conn:
            role = await conn.scalar(
                select(users.c.role).where(
                    users.c.issuer == issuer,
                    users.c.subject == subject,
                    users.c.disabled.is_(False),
                )
            )
        return ROLE_NAMES.get(str(role)) if role else None

    async def api_token_active(self, token_id: str) -> bool:
        """True while the API token exists, is not revoked and has not expired."""
        try:
            ident = UUID(token_id)
        except ValueError:
            return False
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(api_tokens.c.id).where(
                    api_tokens.c.id == ident,
                    api_tokens.c.revoked_at.is_(None),
                    api_tokens.c.expires_at > func.now(),
                )
            )
        return found is not None
