"""SQL of repository secrets (the one writer of `repo_secrets`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, select
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
