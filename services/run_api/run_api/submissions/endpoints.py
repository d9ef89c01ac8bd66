"""Where Dapr delivers `run-submissions`: only this app's sidecar may call it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dursor_contracts.cloudevents import Delivery, ReceivedEvent, answer
from dursor_kit.web.security import sidecar_router
from dursor_kit.web.transactions import Tx
from run_api.submissions.service import Submissions

router = sidecar_router("/dapr")


def _submissions(request: Request) -> Submissions:
    submissions: Submissions = request.app.state.submissions
    return submissions


@router.post("/run-submissions")
async def take_submission(
    event: ReceivedEvent, tx: Tx, submissions: Annotated[Submissions, Depends(_submissions)]
) -> dict[str, str]:
    """Accept, skip (duplicate) or refuse (dead letter with the reason) one submission.

    Every decided outcome is acknowledged; only a failure of our own (the database
    gone) is an error, which Dapr retries and at last dead-letters.
    """
    await submissions.take(tx, event)
    return answer(Delivery.SUCCESS)
