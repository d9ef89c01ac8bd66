"""Dead letters: the consumer of every `<topic>-dlq` (on the run too), and Admins' list."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Query

from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer
from dursor_contracts.events import EventType, ProgressData
from dursor_kit.web.problems import bad_request
from dursor_kit.web.security import Admin, sidecar_router
from dursor_kit.web.transactions import Tx
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.run_reads import run_exists
from run_api.dead_letters import repository as sql
from run_api.dead_letters.schemas import DeadLetterOut
from run_api.declared import LIST
from run_api.deps import DEFAULT_PAGE, Cursor, Engine, Limit
from run_api.schemas import Page

log = structlog.get_logger(__name__)
router = sidecar_router("/dapr")
admin_router = APIRouter(prefix="/v1", tags=["dead letters"])


def _run_id(data: Any) -> UUID | None:
    if isinstance(data, dict):
        try:
            return UUID(str(data.get("run_id")))
        except ValueError:
            return None
    return None


@router.post("/dead-letters")
async def record_dead_letter(event: ReceivedEvent, tx: Tx) -> dict[str, str]:
    """Store the undelivered message once (by topic and id) and note it on its run."""
    run_id = _run_id(event.data)
    if run_id is not None and not await run_exists(tx.conn, run_id):
        run_id = None
    inserted = await sql.insert_dead_letter(
        tx.conn, event.topic, event.id, run_id, event.model_dump(mode="json")
    )
    if inserted is not None and run_id is not None:
        note = ProgressData(
            message=f"a {event.topic} message could not be delivered and was recorded",
            step="dead-letter",
        )
        await append_events(tx, run_id, [NewEvent(EventType.PROGRESS, note)])
    log.warning(
        "dead letter recorded", topic=event.topic, event_id=event.id, duplicate=inserted is None
    )
    return answer(Delivery.SUCCESS)


def _before_id(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise bad_request("invalid-cursor", "the cursor is not valid", "cursor")
    return int(cursor)


@admin_router.get("/dead-letters", response_model=Page[DeadLetterOut], responses=LIST)
async def list_dead_letters(
    _: Admin,
    engine: Engine,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
    topic: Annotated[str | None, Query(max_length=200, pattern=r"^[a-z0-9-]+$")] = None,
) -> Page[DeadLetterOut]:
    """Messages refused (with the reason) or undeliverable, newest first; Admins only."""
    async with engine.connect() as conn:
        rows = await sql.list_dead_letters(conn, topic, _before_id(cursor), limit)
    items = [DeadLetterOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    return Page(items=items, next_cursor=str(rows[limit - 1].id) if len(rows) > limit else None)
