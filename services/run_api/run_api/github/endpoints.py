"""GitHub webhook deliveries, verified at the gateway and forwarded here by Dapr invocation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dursor_kit.web.security import sidecar_router
from run_api.github.schemas import WebhookDelivery
from run_api.github.service import GitHubEvent, GitHubEvents

router = sidecar_router("/internal/github")


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
