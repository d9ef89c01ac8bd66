"""GitHub webhook deliveries, verified at the gateway and forwarded here by Dapr invocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import Field

from dursor_kit.web.request_bodies import RequestBody
from dursor_kit.web.security import sidecar_router
from run_api.github_events import GitHubEvent, GitHubEvents

router = sidecar_router("/internal/github")


class WebhookDelivery(RequestBody):
    """A delivery as the gateway forwards it: event name, delivery id, payload."""

    event: str = Field(min_length=1, max_length=100)
    delivery: str = Field(max_length=100)
    payload: dict[str, Any]


def _events(request: Request) -> GitHubEvents:
    events: GitHubEvents = request.app.state.github_events
    return events


@router.post("/events")
async def github_event(
    body: WebhookDelivery, events: Annotated[GitHubEvents, Depends(_events)]
) -> dict[str, str]:
    """Apply one event; the outcome says what it changed."""
    outcome = await events.handle(GitHubEvent(body.event, body.delivery, body.payload))
    return {"outcome": outcome}
