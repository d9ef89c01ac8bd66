"""Outgoing webhook deliveries: fanned out with the change they announce, sent in order.

`fan_out` writes one row per registered endpoint whose filter wants the event, in the
caller's unit of work (so, like the pub/sub outbox, nothing is announced that did not
commit, and nothing committed is lost). A dispatcher takes the due rows that head
their (endpoint, run) line, so one run's deliveries reach an endpoint in order even
while an earlier one is being retried; after the last try a row is dead and the line
moves on. Every row stays as the delivery log Admins read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import any_, cast, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_contracts.events import ContractModel
from dursor_contracts.integrations import WebhookEventType
from dursor_kit.db.rows import TableRow, fetch_all
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_store.schema import webhook_deliveries, webhook_endpoints

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class DueDelivery(TableRow):
    """A delivery due now, with its endpoint's URL and sealed secret."""

    id: int
    endpoint_id: UUID
    message_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret_key_id: str
    secret_nonce: bytes
    secret_ciphertext: bytes


class DeliveryRow(TableRow):
    """One delivery as the log shows it."""

    id: int
    endpoint_id: UUID
    message_id: str
    event_type: str
    order_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def webhook_body(event_type: WebhookEventType, data: ContractModel) -> dict[str, Any]:
    """The body every endpoint receives: type, timestamp and the public payload."""
    return {
        "type": event_type.value,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": data.model_dump(mode="json"),
    }


async def fan_out(
    work: UnitOfWork,
    event_type: WebhookEventType,
    message_id: str,
    order_key: str,
    data: ContractModel,
) -> None:
    """One pending delivery per live endpoint whose filter wants `event_type`."""
    body = cast(literal(json.dumps(webhook_body(event_type, data))), JSONB)
    wanted = select(
        webhook_endpoints.c.id,
        literal(message_id),
        literal(event_type.value),
        literal(order_key),
        body,
    ).where(
        webhook_endpoints.c.deleted_at.is_(None),
        literal(event_type.value) == any_(webhook_endpoints.c.event_types),
    )
    columns = ["endpoint_id", "message_id", "event_type", "order_key", "payload"]
    await work.conn.execute(
        insert(webhook_deliveries)
        .from_select(columns, wanted)
        # No conflict target: agent-runner may insert without reading the table.
        .on_conflict_do_nothing()
    )


async def take_due(conn: AsyncConnection, batch: int) -> list[DueDelivery]:
    """Due deliveries that head their (endpoint, run) line, locked until the commit."""
    earlier = webhook_deliveries.alias("earlier")
    ahead = exists().where(
        earlier.c.endpoint_id == webhook_deliveries.c.endpoint_id,
        earlier.c.order_key == webhook_deliveries.c.order_key,
        earlier.c.status == PENDING,
        earlier.c.id < webhook_deliveries.c.id,
    )
    statement = (
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.endpoint_id,
            webhook_deliveries.c.message_id,
            webhook_deliveries.c.event_type,
            webhook_deliveries.c.payload,
            webhook_deliveries.c.attempts,
            webhook_endpoints.c.url,
            webhook_endpoints.c.secret_key_id,
            webhook_endpoints.c.secret_nonce,
            webhook_endpoints.c.secret_ciphertext,
        )
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= func.now(),
            webhook_endpoints.c.deleted_at.is_(None),
            ~ahead,
        )
        .order_by(webhook_deliveries.c.id)
        .limit(batch)
        .with_for_update(of=webhook_deliveries, skip_locked=True)
    )
    return await fetch_all(conn, statement, DueDelivery)


async def record_delivered(conn: AsyncConnection, delivery_id: int, status_code: int) -> None:
    """The endpoint took the delivery (a 2xx)."""
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status=DELIVERED,
            attempts=webhook_deliveries.c.attempts + 1,
            last_status_code=status_code,
            last_error=None,
            delivered_at=func.now(),
        )
    )


async def record_failed(
    conn: AsyncConnection,
    delivery: DueDelivery,
    status_code: int | None,
    error: str,
    retry_in: timedelta | None,
) -> None:
    """A failed try: due again after `retry_in`, or dead when no try is left (None)."""
    values: dict[str, object] = {
        "attempts": webhook_deliveries.c.attempts + 1,
        "last_status_code": status_code,
        "last_error": error[:500],
    }
    if retry_in is None:
        values["status"] = DEAD
    else:
        values["next_attempt_at"] = func.now() + retry_in
    await conn.execute(
        update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(**values)
    )


async def delivery_log(
    conn: AsyncConnection, endpoint_id: UUID, before_id: int | None, limit: int
) -> list[DeliveryRow]:
    """An endpoint's deliveries, newest first (limit + 1 rows to detect a next page)."""
    conditions = [webhook_deliveries.c.endpoint_id == endpoint_id]
    if before_id is not None:
        conditions.append(webhook_deliveries.c.id < before_id)
    statement = (
        select(webhook_deliveries)
        .where(*conditions)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit + 1)
    )
    return await fetch_all(conn, statement, DeliveryRow)
