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
