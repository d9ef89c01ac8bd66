"""SQL of repository secrets (the one writer of `repo_secrets`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.crypto import Sealed
from dursor_kit.db.rows import TableRow, fetch_all, fetch_one
from dursor_store.schema import repo_secrets

PUBLIC_COLUMNS = (
    repo_secrets.c.name,
    repo_secrets.c.inject_into,
    repo_secrets.c.key_id,
    repo_secrets.c.updated_by,
    repo_secrets.c.updated_at,
)


class SecretRow(TableRow):
    """A secret as listed: no key material."""

    name: str
    inject_into: list[str]
    key_id: str
    updated_by: str
    updated_at: datetime


async def list_secrets(conn: AsyncConnection, repo_id: UUID) -> list[SecretRow]:
    """The repository's secrets by name."""
    statement = (
        select(*PUBLIC_COLUMNS)
        .where(repo_secrets.c.repo_id == repo_id)
        .order_by(repo_secrets.c.name)
    )
    return await fetch_all(conn, statement, SecretRow)


async def put_secret(
    conn: AsyncConnection,
    repo_id: UUID,
    name: str,
    places: list[str],
    sealed: Sealed,
    owner: str,
) -> SecretRow:
    """Create or replace one secret."""
    values = {
        "inject_into": places,
        "key_id": sealed.key_id,
        "key_nonce": sealed.nonce,
        "key_ciphertext": sealed.ciphertext,
        "updated_by": owner,
    }
    statement = (
        pg_insert(repo_secrets)
        .values(repo_id=repo_id, name=name, **values)
        .on_conflict_do_update(
            index_elements=[repo_secrets.c.repo_id, repo_secrets.c.name],
            set_=values | {"updated_at": func.now()},
        )
        .returning(*PUBLIC_COLUMNS)
    )
    return await fetch_one(conn, statement, SecretRow)


async def delete_secret(conn: AsyncConnection, repo_id: UUID, name: str) -> bool:
    """Remove one secret; False when there was none."""
    statement = (
        delete(repo_secrets)
        .where(repo_secrets.c.repo_id == repo_id, repo_secrets.c.name == name)
        .returning(repo_secrets.c.name)
    )
    return (await conn.scalar(statement)) is not None


class SealedSecretRow(TableRow):
    """A secret's sealed value (what key rotation reseals)."""

    repo_id: UUID
    name: str
    key_id: str
    key_nonce: bytes
    key_ciphertext: bytes


class SecretKeyCount(TableRow):
    """How many secrets one key id seals."""

    key_id: str
    rows: int


async def sealed_not_under(
    conn: AsyncConnection, primary: str, after: tuple[UUID, str] | None, limit: int
) -> list[SealedSecretRow]:
    """Secrets sealed with another key than `primary`, by (repository, name) after `after`."""
    conditions = [repo_secrets.c.key_id != primary]
    if after is not None:
        conditions.append(tuple_(repo_secrets.c.repo_id, repo_secrets.c.name) > tuple_(*after))
    query = (
        select(
            repo_secrets.c.repo_id,
            repo_secrets.c.name,
            repo_secrets.c.key_id,
            repo_secrets.c.key_nonce,
            repo_secrets.c.key_ciphertext,
        )
        .where(*conditions)
        .order_by(repo_secrets.c.repo_id, repo_secrets.c.name)
        .limit(limit)
    )
    return await fetch_all(conn, query, SealedSecretRow)


async def replace_sealed(
    conn: AsyncConnection, repo_id: UUID, name: str, old_key_id: str, sealed: Sealed
) -> bool:
    """Swap a secret's ciphertext if it is still sealed with `old_key_id` (compare-and-set)."""
    changed = await conn.scalar(
        update(repo_secrets)
        .where(
            repo_secrets.c.repo_id == repo_id,
            repo_secrets.c.name == name,
            repo_secrets.c.key_id == old_key_id,
        )
        .values(key_id=sealed.key_id, key_nonce=sealed.nonce, key_ciphertext=sealed.ciphertext)
        .returning(repo_secrets.c.name)
    )
    return changed is not None


async def count_by_key(conn: AsyncConnection) -> dict[str, int]:
    """How many secrets each key id seals."""
    query = select(repo_secrets.c.key_id, func.count().label("rows")).group_by(
        repo_secrets.c.key_id
    )
    return {row.key_id: row.rows for row in await fetch_all(conn, query, SecretKeyCount)}
