"""SQL for model profiles: provider credentials sealed with the encryption key ring."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.crypto import Sealed
from dursor_kit.db.clauses import one_of
from dursor_kit.db.rows import TableRow, fetch_all, fetch_one, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import model_profiles

# Everything but the sealed key: what reads may see.
PUBLIC_COLUMNS = [c for c in model_profiles.c if c.name not in ("key_nonce", "key_ciphertext")]


class ProfileRow(TableRow):
    """A model profile without its key material."""

    id: UUID
    name: str
    provider: str
    model: str
    base_url: str | None
    key_id: str
    created_by: str
    shared: bool
    created_at: datetime
    deleted_at: datetime | None


class SealedKeyRow(TableRow):
    """A profile's sealed API key (what key rotation reseals)."""

    id: UUID
    key_id: str
    key_nonce: bytes
    key_ciphertext: bytes


class KeyCount(TableRow):
    """How many profiles one key id seals."""

    key_id: str
    rows: int


async def insert_profile(
    conn: AsyncConnection, profile_id: UUID, values: dict[str, Any], sealed: Sealed
) -> ProfileRow:
    """A new profile with its sealed API key."""
    return await fetch_one(
        conn,
        insert(model_profiles)
        .values(
            id=profile_id,
            key_id=sealed.key_id,
            key_nonce=sealed.nonce,
            key_ciphertext=sealed.ciphertext,
            **values,
        )
        .returning(*PUBLIC_COLUMNS),
        ProfileRow,
    )


async def get_profile(conn: AsyncConnection, profile_id: UUID) -> ProfileRow | None:
    """One profile that is not deleted."""
    return await fetch_optional(
        conn,
        select(*PUBLIC_COLUMNS).where(
            model_profiles.c.id == profile_id, model_profiles.c.deleted_at.is_(None)
        ),
        ProfileRow,
    )


async def live_profile_ids(conn: AsyncConnection, wanted: set[UUID]) -> set[UUID]:
    """Which of `wanted` name a profile that is not deleted."""
    found = await conn.scalars(
        select(model_profiles.c.id).where(
            one_of(model_profiles.c.id, wanted), model_profiles.c.deleted_at.is_(None)
        )
    )
    return set(found)


async def usable_profile_ids(conn: AsyncConnection, wanted: set[UUID], owner_key: str) -> set[UUID]:
    """Which of the live profiles `wanted` the user may run with: their own or shared ones."""
    found = await conn.scalars(
        select(model_profiles.c.id).where(
            one_of(model_profiles.c.id, wanted),
            model_profiles.c.deleted_at.is_(None),
            model_profiles.c.shared | (model_profiles.c.created_by == owner_key),
        )
    )
    return set(found)


async def list_profiles(conn: AsyncConnection, cursor: str | None, limit: int) -> list[ProfileRow]:
    """A page of live profiles, newest first (limit + 1 rows to detect a next page)."""
    query = (
        select(*PUBLIC_COLUMNS)
        .where(model_profiles.c.deleted_at.is_(None), *after_cursor(model_profiles, cursor))
        .order_by(*newest_first(model_profiles))
        .limit(limit + 1)
    )
    return await fetch_all(conn, query, ProfileRow)


async def soft_delete(conn: AsyncConnection, profile_id: UUID) -> bool:
    """Mark a live profile deleted; False if there was none."""
    deleted = await conn.scalar(
        update(model_profiles)
        .where(model_profiles.c.id == profile_id, model_profiles.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(model_profiles.c.id)
    )
    return deleted is not None


async def sealed_not_under(
    conn: AsyncConnection, primary: str, after: UUID | None, limit: int
) -> list[SealedKeyRow]:
    """Rows (deleted ones too) sealed with another key than `primary`, by id."""
    conditions = [model_profiles.c.key_id != primary]
    if after is not None:
        conditions.append(model_profiles.c.id > after)
    query = (
        select(
            model_profiles.c.id,
            model_profiles.c.key_id,
            model_profiles.c.key_nonce,
            model_profiles.c.key_ciphertext,
        )
        .where(*conditions)
        .order_by(model_profiles.c.id)
        .limit(limit)
    )
    return await fetch_all(conn, query, SealedKeyRow)


async def replace_sealed(
    conn: AsyncConnection, profile_id: UUID, old_key_id: str, sealed: Sealed
) -> bool:
    """Swap a row's ciphertext if it is still sealed with `old_key_id` (compare-and-set)."""
    changed = await conn.scalar(
        update(model_profiles)
        .where(model_profiles.c.id == profile_id, model_profiles.c.key_id == old_key_id)
        .values(key_id=sealed.key_id, key_nonce=sealed.nonce, key_ciphertext=sealed.ciphertext)
        .returning(model_profiles.c.id)
    )
    return changed is not None


async def count_by_key(conn: AsyncConnection) -> dict[str, int]:
    """How many rows each key id seals."""
    query = select(model_profiles.c.key_id, func.count().label("rows")).group_by(
        model_profiles.c.key_id
    )
    return {row.key_id: row.rows for row in await fetch_all(conn, query, KeyCount)}
