"""SQL of webhook endpoints (the deliveries are `dursor_store.webhook_deliveries`')."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.crypto import Sealed
from dursor_kit.db.rows import TableRow, fetch_all, fetch_one, fetch_optional
from dursor_kit.web.pagination import after_cursor, newest_first
from dursor_store.schema import webhook_endpoints


class EndpointRow(TableRow):
    """A registered endpoint without its sealed secret."""

    id: UUID
    url: str
    event_types: list[str]
    created_by: str
    created_at: datetime


PUBLIC_COLUMNS = (
    webhook_endpoints.c.id,
    webhook_endpoints.c.url,
    webhook_endpoints.c.event_types,
    webhook_endpoints.c.created_by,
    webhook_endpoints.c.created_at,
)


async def insert_endpoint(
    conn: AsyncConnection,
    endpoint_id: UUID,
    url: str,
    event_types: list[str],
    sealed: Sealed,
    owner: str,
) -> EndpointRow:
    """A new endpoint row."""
    statement = (
        insert(webhook_endpoints)
        .values(
            id=endpoint_id,
            url=url,
            event_types=event_types,
            secret_key_id=sealed.key_id,
            secret_nonce=sealed.nonce,
            secret_ciphertext=sealed.ciphertext,
            created_by=owner,
        )
        .returning(*PUBLIC_COLUMNS)
    )
    return await fetch_one(conn, statement, EndpointRow)


async def get_endpoint(conn: AsyncConnection, endpoint_id: UUID) -> EndpointRow | None:
    """A live endpoint."""
    statement = select(*PUBLIC_COLUMNS).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None)
    )
    return await fetch_optional(conn, statement, EndpointRow)


async def list_endpoints(
    conn: AsyncConnection, cursor: str | None, limit: int
) -> list[EndpointRow]:
    """A page of live endpoints, newest first (limit + 1 rows)."""
    statement = (
        select(*PUBLIC_COLUMNS)
        .where(webhook_endpoints.c.deleted_at.is_(None), *after_cursor(webhook_endpoints, cursor))
        .order_by(*newest_first(webhook_endpoints))
        .limit(limit + 1)
    )
    return await fetch_all(conn, statement, EndpointRow)


async def soft_delete(conn: AsyncConnection, endpoint_id: UUID) -> bool:
    """Stop delivering to an endpoint; False if there is no live one."""
    deleted = await conn.scalar(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(webhook_endpoints.c.id)
    )
    return deleted is not None


class SealedEndpointSecretRow(TableRow):
    """An endpoint's sealed signing secret (what key rotation reseals)."""

    id: UUID
    secret_key_id: str
    secret_nonce: bytes
    secret_ciphertext: bytes


class EndpointKeyCount(TableRow):
    """How many endpoint secrets one key id seals."""

    key_id: str
    rows: int


async def sealed_not_under(
    conn: AsyncConnection, primary: str, after: UUID | None, limit: int
) -> list[SealedEndpointSecretRow]:
    """Endpoints (deleted ones too) whose secret another key than `primary` seals, by id."""
    conditions = [webhook_endpoints.c.secret_key_id != primary]
    if after is not None:
        conditions.append(webhook_endpoints.c.id > after)
    query = (
        select(
            webhook_endpoints.c.id,
            webhook_endpoints.c.secret_key_id,
            webhook_endpoints.c.secret_nonce,
            webhook_endpoints.c.secret_ciphertext,
        )
        .where(*conditions)
        .order_by(webhook_endpoints.c.id)
        .limit(limit)
    )
    return await fetch_all(conn, query, SealedEndpointSecretRow)


async def replace_sealed(
    conn: AsyncConnection, endpoint_id: UUID, old_key_id: str, sealed: Sealed
) -> bool:
    """Swap an endpoint's sealed secret if `old_key_id` still seals it (compare-and-set)."""
    changed = await conn.scalar(
        update(webhook_endpoints)
        .where(
            webhook_endpoints.c.id == endpoint_id,
            webhook_endpoints.c.secret_key_id == old_key_id,
        )
        .values(
            secret_key_id=sealed.key_id,
            secret_nonce=sealed.nonce,
            secret_ciphertext=sealed.ciphertext,
        )
        .returning(webhook_endpoints.c.id)
    )
    return changed is not None


async def count_by_key(conn: AsyncConnection) -> dict[str, int]:
    """How many endpoint secrets each key id seals."""
    key_id = webhook_endpoints.c.secret_key_id.label("key_id")
    query = select(key_id, func.count().label("rows")).group_by(webhook_endpoints.c.secret_key_id)
    return {row.key_id: row.rows for row in await fetch_all(conn, query, EndpointKeyCount)}
