"""`run-events` arrives here on every replica and is fanned out in-process."""

from __future__ import annotations

import structlog
from fastapi import Request

from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer, parse_payload
from dursor_contracts.events import RunEventV1
from dursor_kit.web.security import sidecar_router

log = structlog.get_logger(__name__)
router = sidecar_router("/dapr")


@router.post("/run-events")
async def run_events(event: ReceivedEvent, request: Request) -> dict[str, str]:
    """Hand the event to this replica's hub; a contract violation goes to the DLQ."""
    payload = parse_payload(event, RunEventV1)
    if payload is None:
        log.warning("rejected run-events message", event_id=event.id)
        return answer(Delivery.RETRY)
    request.app.state.metrics.live_messages.add(1)
    request.app.state.hub.publish(payload)
    return answer(Delivery.SUCCESS)
