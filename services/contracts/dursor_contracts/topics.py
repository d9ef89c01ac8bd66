"""Topic names, the pub/sub component each travels on, and the payload model of each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dursor_contracts.events import (
    ContractModel,
    PrRequestedV1,
    RunCancelRequestedV1,
    RunEventV1,
    RunRequestedV1,
)


class PubSub(StrEnum):
    """Dapr pub/sub components; the names are the same locally and on Container Apps."""

    # One consumer group per app id: each message goes to one replica (work queue).
    WORK = "pubsub"
    # One consumer group per sidecar: each message reaches every replica (fan-out).
    BROADCAST = "pubsub-broadcast"


@dataclass(frozen=True)
class Topic:
    """A topic, its component, its payload model and its CloudEvent type."""

    name: str
    pubsub: PubSub
    model: type[ContractModel]
    version: int = 1

    @property
    def dead_letter(self) -> str:
        """Name of the topic that receives what this one could not deliver."""
        return f"{self.name}-dlq"

    @property
    def cloudevent_type(self) -> str:
        """CloudEvent `type` attribute: reverse-DNS name with the payload version."""
        return f"cloud.dursor.{self.name}.v{self.version}"


RUN_REQUESTED = Topic("run-requested", PubSub.WORK, RunRequestedV1)
RUN_CANCEL_REQUESTED = Topic("run-cancel-requested", PubSub.BROADCAST, RunCancelRequestedV1)
RUN_EVENTS = Topic("run-events", PubSub.BROADCAST, RunEventV1)
PR_REQUESTED = Topic("pr-requested", PubSub.WORK, PrRequestedV1)

ALL_TOPICS: tuple[Topic, ...] = (RUN_REQUESTED, RUN_CANCEL_REQUESTED, RUN_EVENTS, PR_REQUESTED)
TOPICS_BY_NAME = {topic.name: topic for topic in ALL_TOPICS}

# Who publishes what (each app's outbox relay, and the pub/sub components' publishing
# scopes in components/): the gateway and auth publish nothing.
PUBLISHERS: dict[str, tuple[Topic, ...]] = {
    "run-api": (RUN_REQUESTED, RUN_CANCEL_REQUESTED, RUN_EVENTS, PR_REQUESTED),
    "agent-runner": (RUN_REQUESTED, RUN_EVENTS, PR_REQUESTED),
}


def published_by(app_id: str) -> tuple[Topic, ...]:
    """The topics `app_id` may publish; an app that publishes nothing has no relay."""
    if app_id not in PUBLISHERS:
        raise ValueError(f"{app_id} publishes no topic")
    return PUBLISHERS[app_id]
