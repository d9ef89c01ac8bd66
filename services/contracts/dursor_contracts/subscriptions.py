"""Who subscribes to what: the one list behind components/subscriptions.yaml and /dapr/subscribe.

Locally Dapr reads the declarative file; Azure Container Apps cannot deploy declarative
subscriptions, so there each service answers `GET /dapr/subscribe` from this same list
(`DURSOR_PROGRAMMATIC_SUBSCRIPTIONS=true`). A test keeps the file and the list equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dursor_contracts.topics import (
    ALL_TOPICS,
    PR_REQUESTED,
    RUN_CANCEL_REQUESTED,
    RUN_EVENTS,
    RUN_REQUESTED,
    RUN_SUBMISSIONS,
    Topic,
)

DEAD_LETTER_ROUTE = "/dapr/dead-letters"
DEAD_LETTER_CONSUMER = "run-api"


@dataclass(frozen=True)
class Subscription:
    """One app's subscription to one topic."""

    app_id: str
    pubsub: str
    topic: str
    route: str
    dead_letter_topic: str | None

    @property
    def name(self) -> str:
        """The Subscription resource name."""
        return self.topic

    def programmatic(self) -> dict[str, Any]:
        """The entry Dapr expects from `GET /dapr/subscribe`."""
        entry: dict[str, Any] = {
            "pubsubname": self.pubsub,
            "topic": self.topic,
            "routes": {"default": self.route},
        }
        if self.dead_letter_topic:
            entry["deadLetterTopic"] = self.dead_letter_topic
        return entry


def _consumer(app_id: str, topic: Topic) -> Subscription:
    return Subscription(
        app_id, topic.pubsub.value, topic.name, f"/dapr/{topic.name}", topic.dead_letter
    )


def _dead_letters(topic: Topic) -> Subscription:
    return Subscription(
        DEAD_LETTER_CONSUMER, topic.pubsub.value, topic.dead_letter, DEAD_LETTER_ROUTE, None
    )


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    _consumer("agent-runner", RUN_REQUESTED),
    _consumer("agent-runner", PR_REQUESTED),
    _consumer("agent-runner", RUN_CANCEL_REQUESTED),
    _consumer("events-gateway", RUN_EVENTS),
    _consumer("run-api", RUN_SUBMISSIONS),
    *(_dead_letters(topic) for topic in (*ALL_TOPICS, RUN_SUBMISSIONS)),
)


def subscriptions_of(app_id: str) -> list[Subscription]:
    """The subscriptions one app declares."""
    return [s for s in SUBSCRIPTIONS if s.app_id == app_id]
