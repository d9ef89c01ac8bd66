"""Consumer of every `<topic>-dlq`: records what could not be delivered, on the run too."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer
from dursor_contracts.events import EventType, ProgressData
from dursor_kit.web.security import sidecar_router
from dursor_kit.web.transactions import Tx
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.run_reads import run_exists
from run_api.dead_letters import repository as sql

log = structlog.get_logger(__name__)
router = sidecar_router("/dapr")


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
