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
from dursor_contracts.integrations import (
    PullRequestUpdatedV1,
    RunLifecycleV1,
    RunSubmissionV1,
)


class PubSub(StrEnum):
    """Dapr pub/sub components; the names are the same locally and on Container Apps."""

    # One consumer group per app id: each message goes to one replica (work queue).
    WORK = "pubsub"
    # One consumer group per sidecar: each message reaches every replica (fan-out).
    BROADCAST = "pubsub-broadcast"
    # Public integration topics: a work queue of their own, so other teams' apps are
    # granted this component alone and the internal topics can change freely.
    INTEGRATIONS = "integrations"


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

RUN_LIFECYCLE = Topic("run-lifecycle", PubSub.INTEGRATIONS, RunLifecycleV1)
PULL_REQUEST_UPDATED = Topic("pull-request-updated", PubSub.INTEGRATIONS, PullRequestUpdatedV1)
RUN_SUBMISSIONS = Topic("run-submissions", PubSub.INTEGRATIONS, RunSubmissionV1)

# The internal topics: only dursor's own apps publish or consume them.
ALL_TOPICS: tuple[Topic, ...] = (RUN_REQUESTED, RUN_CANCEL_REQUESTED, RUN_EVENTS, PR_REQUESTED)
# The public ones: dursor publishes the first two, a trusted integration app the third.
INTEGRATION_TOPICS: tuple[Topic, ...] = (RUN_LIFECYCLE, PULL_REQUEST_UPDATED, RUN_SUBMISSIONS)
TOPICS_BY_NAME = {topic.name: topic for topic in (*ALL_TOPICS, *INTEGRATION_TOPICS)}

# The Dapr app id of the example integration (examples/integration): the one outside app
# components/integrations.yaml grants; an operator adds their own apps the same way.
EXAMPLE_INTEGRATION_APP = "example-integration"

# Who publishes what (each app's outbox relay, and the pub/sub components' publishing
# scopes in components/): the gateway and auth publish nothing.
PUBLISHERS: dict[str, tuple[Topic, ...]] = {
    "run-api": (
        RUN_REQUESTED,
        RUN_CANCEL_REQUESTED,
        RUN_EVENTS,
        PR_REQUESTED,
        RUN_LIFECYCLE,
        PULL_REQUEST_UPDATED,
    ),
    "agent-runner": (RUN_REQUESTED, RUN_EVENTS, PR_REQUESTED, RUN_LIFECYCLE, PULL_REQUEST_UPDATED),
}


def published_by(app_id: str) -> tuple[Topic, ...]:
    """The topics `app_id` may publish; an app that publishes nothing has no relay."""
    if app_id not in PUBLISHERS:
        raise ValueError(f"{app_id} publishes no topic")
    return PUBLISHERS[app_id]
