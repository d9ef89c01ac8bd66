"""Dapr deliveries of pull-request work: `pr-requested` and the `ci-poll` cron binding."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request

from agent_runner.pull_requests.jobs import PullRequestJobs
from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer, parse_payload
from dursor_contracts.events import PrRequestedV1
from dursor_contracts.pull_requests import PrWork
from dursor_kit.web.security import sidecar_router

log = structlog.get_logger(__name__)
router = sidecar_router("/dapr")


def get_pr_jobs(request: Request) -> PullRequestJobs:
    """The worker's pull-request jobs, created by the lifespan."""
    jobs: PullRequestJobs = request.app.state.pr_jobs
    return jobs


PrJobsDep = Annotated[PullRequestJobs, Depends(get_pr_jobs)]


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
