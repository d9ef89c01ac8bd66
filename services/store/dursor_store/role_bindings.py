"""What the shared database says about callers: role bindings and live API tokens.

Every service verifies tokens itself; these lookups let it cap a token's role by its
user's current binding, refuse a disabled user, and honour the revocation of an API
token. Bindings are cached briefly (one query per identity per cache period, however
many requests); API tokens are looked up on every request, so revocation is immediate.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.auth.verifier import ROLE_NAMES, Binding
from dursor_kit.db.rows import TableRow, fetch_optional
from dursor_store.schema import api_tokens, users


class BindingRow(TableRow):
    """The columns of a user that bind its tokens."""

    role: str
    disabled: bool
    role_pinned: bool


def _binding(row: BindingRow | None) -> Binding | None:
    if row is None or row.role not in ROLE_NAMES:
        return None
    return Binding(ROLE_NAMES[row.role], disabled=row.disabled, pinned=row.role_pinned)


class DatabaseAuthority:
    """Role bindings (users table) and API-token state (api_tokens table)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def binding_of(self, issuer: str, subject: str) -> Binding | None:
        """The binding of this identity, or None when it has no user row."""
        async with self._engine.connect() as conn:
            row = await fetch_optional(
                conn,
                select(users.c.role, users.c.disabled, users.c.role_pinned).where(
                    users.c.issuer == issuer, users.c.subject == subject
                ),
                BindingRow,
            )
        return _binding(row)

    async def api_token_owner(self, token_id: str) -> Binding | None:
        """The owner's binding while the API token exists, is not revoked and has not expired."""
        try:
            ident = UUID(token_id)
        except ValueError:
            return None
        async with self._engine.connect() as conn:
            row = await fetch_optional(
                conn,
                select(users.c.role, users.c.disabled, users.c.role_pinned)
                .select_from(api_tokens.join(users, api_tokens.c.user_id == users.c.id))
                .where(
                    api_tokens.c.id == ident,
                    api_tokens.c.revoked_at.is_(None),
                    api_tokens.c.expires_at > func.now(),
                ),
                BindingRow,
            )
        return _binding(row)
