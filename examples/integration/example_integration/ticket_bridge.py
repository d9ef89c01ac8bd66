"""The ticket bridge: a ticket from some tracker becomes a `run-submissions` message.

The ticket's id becomes the CloudEvent id, so sending the same ticket twice asks for its
runs once: dursor takes each CloudEvent id once.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from dapr.clients import DaprClient
from pydantic import BaseModel, Field

from example_integration.settings import PUBSUB, RUN_SUBMISSIONS


class Ticket(BaseModel):
    """A ticket asking for work on a repository dursor knows."""

    ticket_id: str = Field(min_length=1, max_length=200)
    repo_id: str
    title: str
    instruction: str
    executors: list[dict[str, Any]]


def submission_event(ticket: Ticket, submitted_as: str) -> dict[str, Any]:
    """The CloudEvent of one submission (its id is the ticket's)."""
    return {
        "specversion": "1.0",
        "id": f"ticket-{ticket.ticket_id}",
        "source": "example-integration/ticket-bridge",
        "type": "cloud.dursor.run-submissions.v1",
        "datacontenttype": "application/json",
        "time": datetime.now(UTC).isoformat(),
        "data": {
            "schema_version": 1,
            "submitted_as": submitted_as,
            "repo_id": ticket.repo_id,
            "title": ticket.title,
            "instruction": ticket.instruction,
            "executors": ticket.executors,
        },
    }


def _publish(event: dict[str, Any]) -> None:
    # The SDK's client waits for the sidecar in its constructor: run it off the event loop.
    with DaprClient() as client:
        client.publish_event(
            pubsub_name=PUBSUB,
            topic_name=RUN_SUBMISSIONS,
            data=json.dumps(event),
            data_content_type="application/cloudevents+json",
        )


async def submit(ticket: Ticket, submitted_as: str) -> str:
    """Publish the ticket as a submission; returns its CloudEvent id."""
    event = submission_event(ticket, submitted_as)
    await asyncio.to_thread(_publish, event)
    return str(event["id"])
