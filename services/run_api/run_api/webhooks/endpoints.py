"""Webhooks: Admins register, list and remove endpoints and read their delivery log."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from dursor_contracts.integrations import WebhookEventType
from dursor_kit.errors import NotFound
from dursor_kit.web.pagination import next_cursor
from dursor_kit.web.problems import bad_request
from dursor_kit.web.security import Admin
from dursor_kit.web.transactions import Tx
from dursor_store.webhook_deliveries import delivery_log
from run_api.declared import LIST, LIST_OF, IdempotencyKey, write
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit
from run_api.schemas import Page
from run_api.webhooks import repository as sql
from run_api.webhooks.repository import EndpointRow
from run_api.webhooks.schemas import DeliveryOut, WebhookCreate, WebhookCreated, WebhookOut
from run_api.webhooks.service import Webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _webhooks(request: Request) -> Webhooks:
    webhooks: Webhooks = request.app.state.webhooks
    return webhooks


WebhookService = Annotated[Webhooks, Depends(_webhooks)]


def webhook_out(row: EndpointRow) -> WebhookOut:
    """The public view of an endpoint (no secret)."""
    return WebhookOut(
        id=row.id,
        url=row.url,
        event_types=[WebhookEventType(e) for e in row.event_types],
        created_by=row.created_by,
        created_at=row.created_at,
    )


@router.post("", status_code=201, response_model=WebhookCreated, responses=write())
async def register_webhook(
    body: WebhookCreate,
    principal: Admin,
    webhooks: WebhookService,
    tx: Tx,
    _key: IdempotencyKey = None,
) -> WebhookCreated:
    """Register an endpoint; its signing secret is in this answer and never again."""
    row, secret = await webhooks.register(tx, principal, body)
    return WebhookCreated(**webhook_out(row).model_dump(), secret=secret)


@router.get("", response_model=Page[WebhookOut], responses=LIST)
async def list_webhooks(
    _: Admin, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[WebhookOut]:
    """Registered endpoints, newest first."""
    async with engine.connect() as conn:
        rows = await sql.list_endpoints(conn, cursor, limit)
    return Page(items=[webhook_out(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.delete("/{webhook_id}", status_code=204, responses=write(404))
async def remove_webhook(webhook_id: UUID, _: Admin, webhooks: WebhookService, tx: Tx) -> Response:
    """Stop delivering to an endpoint (its log stays)."""
    await webhooks.remove(tx, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut], responses=LIST_OF)
async def list_deliveries(
    webhook_id: UUID, _: Admin, engine: Engine, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None
) -> Page[DeliveryOut]:
    """The endpoint's delivery log, newest first: status, tries, last answer."""
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 18):
        raise bad_request("invalid-cursor", "the cursor is not valid", "cursor")
    async with engine.connect() as conn:
        if await sql.get_endpoint(conn, webhook_id) is None:
            raise NotFound("webhook", webhook_id)
        rows = await delivery_log(conn, webhook_id, int(cursor) if cursor else None, limit)
    items = [DeliveryOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    return Page(items=items, next_cursor=str(rows[limit - 1].id) if len(rows) > limit else None)
