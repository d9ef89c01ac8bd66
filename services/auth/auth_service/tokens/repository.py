"""SQL for personal API tokens: stored hashed, scoped to a role, expiring, revocable."""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all, fetch_one, fetch_optional
from dursor_store.schema import api_tokens


class TokenRow(TableRow):
    """A personal API token as stored (its hash, never the token)."""

    id: UUID
    user_id: UUID
    name: str
    token_hash: str
    role: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


def token_hash(token: str) -> str:
    """What is stored instead of the token (it is shown once, never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def insert_token(
    conn: AsyncConnection,
    token_id: UUID,
    user_id: UUID,
    name: str,
    role: str,
    token: str,
    expires_at: datetime,
) -> TokenRow:
    """Record a new API token."""
    return await fetch_one(
        conn,
        insert(api_tokens)
        .values(
            id=token_id,
            user_id=user_id,
            name=name,
            role=role,
            token_hash=token_hash(token),
            expires_at=expires_at,
        )
        .returning(api_tokens),
        TokenRow,
    )


async def tokens_of(conn: AsyncConnection, user_id: UUID) -> list[TokenRow]:
    """A user's tokens, newest first (without any secret)."""
    return await fetch_all(
        conn,
        select(api_tokens)
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.created_at.desc()),
        TokenRow,
    )


async def revoke(conn: AsyncConnection, token_id: UUID, user_id: UUID | None) -> TokenRow | None:
    """Revoke a token (of `user_id`, or anyone's when None); None if there is no such token."""
    conditions = [api_tokens.c.id == token_id]
    if user_id is not None:
        conditions.append(api_tokens.c.user_id == user_id)
    return await fetch_optional(
        conn,
        update(api_tokens)
        .where(*conditions)
        .values(revoked_at=func.coalesce(api_tokens.c.revoked_at, func.now()))
        .returning(api_tokens),
        TokenRow,
    )
