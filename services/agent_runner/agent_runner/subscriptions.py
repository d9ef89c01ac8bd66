"""Pub/sub routes: validate, claim, acknowledge, in well under a second."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request

from agent_runner.dispatcher import Dispatcher
from agent_runner.pr_jobs import PullRequestJobs
from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer, parse_payload
from dursor_contracts.events import PrRequestedV1, RunCancelRequestedV1, RunRequestedV1
from dursor_contracts.pull_requests import PrWork
from dursor_kit.web.security import sidecar_router

log = structlog.get_logger(__name__)
router = sidecar_router("/dapr")


def get_dispatcher(request: Request) -> Dispatcher:
    """The worker's dispatcher, created by the lifespan."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def get_pr_jobs(request: Request) -> PullRequestJobs:
    """The worker's pull-request jobs, created by the lifespan."""
    jobs: PullRequestJobs = request.app.state.pr_jobs
    return jobs


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
PrJobsDep = Annotated[PullRequestJobs, Depends(get_pr_jobs)]


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


@router.post("/pr-requested")
async def pr_requested(event: ReceivedEvent, jobs: PrJobsDep) -> dict[str, str]:
    """Acknowledge now; push and open the PR, or advance its loop, in the background."""
    request = parse_payload(event, PrRequestedV1)
    if request is None:
        log.warning("rejected pr-requested message", event_id=event.id)
        return answer(Delivery.RETRY)
    jobs.publish(request.pull_request_id, PrWork(request.work))
    return answer(Delivery.SUCCESS)


cron = sidecar_router()


@cron.post("/ci-poll")
async def ci_poll(jobs: PrJobsDep) -> dict[str, bool]:
    """Dapr cron binding `ci-poll`: start a CI poll unless the last one still runs."""
    return {"started": jobs.poll()}
