"""Dapr deliveries of runs: validate, claim, acknowledge, in well under a second; cancels."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request

from agent_runner.runs.dispatcher import Dispatcher
from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer, parse_payload
from dursor_contracts.events import RunCancelRequestedV1, RunRequestedV1
from dursor_kit.web.security import sidecar_router

log = structlog.get_logger(__name__)
router = sidecar_router("/dapr")


def get_dispatcher(request: Request) -> Dispatcher:
    """The worker's dispatcher, created by the lifespan."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


@router.post("/run-requested")
async def run_requested(event: ReceivedEvent, dispatcher: DispatcherDep) -> dict[str, str]:
    """Claim the run if a slot is free; a message that breaks the contract goes to the DLQ."""
    request = parse_payload(event, RunRequestedV1)
    if request is None:
        log.warning("rejected run-requested message", event_id=event.id)
        return answer(Delivery.RETRY)
    try:
        await dispatcher.offer(request)
    except Exception:
        log.exception("could not take run", run_id=str(request.run_id))
        return answer(Delivery.RETRY)
    return answer(Delivery.SUCCESS)


@router.post("/run-cancel-requested")
async def run_cancel_requested(event: ReceivedEvent, dispatcher: DispatcherDep) -> dict[str, str]:
    """Every worker receives the cancel; the one running the run stops it."""
    request = parse_payload(event, RunCancelRequestedV1)
    if request is None:
        log.warning("rejected run-cancel-requested message", event_id=event.id)
        return answer(Delivery.RETRY)
    if dispatcher.cancel(request.run_id, request.reason):
        log.info("cancelling run", run_id=str(request.run_id))
    return answer(Delivery.SUCCESS)
