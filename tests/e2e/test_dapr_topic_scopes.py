"""Each app's sidecar publishes and subscribes only the topics that app owns.

Asserted against real sidecars and the real Redis: every app tries every topic of every
pub/sub component (and one no component knows); a gateway replica that declares a
subscription to a topic not its own never gets a consumer group on that stream.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml

from dursor_contracts.events import (
    EventType,
    PrRequestedV1,
    RunCancelRequestedV1,
    RunEventV1,
    RunRequestedV1,
)
from dursor_kit.secret_names import APP_IDS
from tests.conftest import redis_client
from tests.support.backing import Backing
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

# What each app may publish, written out from the design (README "Topics"): the outbox
# relays' own topics plus the dead letters of what the app's sidecar consumes.
MAY_PUBLISH = {
    "run-api": {"run-requested", "pr-requested", "run-cancel-requested", "run-events"},
    "agent-runner": {
        "run-requested",
        "pr-requested",
        "run-events",
        "run-requested-dlq",
        "pr-requested-dlq",
        "run-cancel-requested-dlq",
    },
    "events-gateway": {"run-events-dlq"},
    "auth": set(),
}
COMPONENTS = {
    "pubsub": ("run-requested", "pr-requested", "run-requested-dlq", "pr-requested-dlq"),
    "pubsub-broadcast": (
        "run-cancel-requested",
        "run-events",
        "run-cancel-requested-dlq",
        "run-events-dlq",
    ),
}


def harmless_payload(topic: str) -> dict[str, Any]:
    """A valid message about nothing that exists: its consumer has nothing to do."""
    run_id, other = uuid4(), uuid4()
    base = topic.removesuffix("-dlq")
    model: Any = {
        "run-requested": RunRequestedV1(run_id=run_id, task_id=other, turn=1, attempt=1),
        "pr-requested": PrRequestedV1(run_id=run_id, pull_request_id=other, requested_by="t"),
        "run-cancel-requested": RunCancelRequestedV1(run_id=run_id, reason="t", requested_by="t"),
        "run-events": RunEventV1(
            run_id=run_id,
            task_id=other,
            seq=1,
            turn=1,
            attempt=1,
            type=EventType.PROGRESS,
            data={"message": "t"},
            created_at=datetime.now(UTC),
        ),
    }[base]
    payload: dict[str, Any] = model.model_dump(mode="json")
    return payload


async def publish(platform: Platform, app_id: str, pubsub: str, topic: str) -> httpx.Response:
    """Publish through the app's own sidecar, with the app's API token."""
    replica = platform.replica(app_id)
    async with httpx.AsyncClient(base_url=replica.sidecar_url, timeout=15) as client:
        return await client.post(
            f"/v1.0/publish/{pubsub}/{topic}",
            json=harmless_payload(topic) if topic in COMPONENTS[pubsub] else {},
            headers=replica.sidecar_headers,
        )


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_each_app_publishes_only_its_own_topics(platform: Platform, app_id: str) -> None:
    answers = {}
    for pubsub, topics in COMPONENTS.items():
        for topic in (*topics, "not-a-topic"):
            answers[(pubsub, topic)] = (await publish(platform, app_id, pubsub, topic)).status_code
    published = {topic for (_, topic), status in answers.items() if status == 204}
    assert published == MAY_PUBLISH[app_id]
    # Every refusal is Dapr's: forbidden (403), or the component is not the app's (404).
    assert {status for status in answers.values() if status != 204} <= {403, 404}


async def test_the_gateway_cannot_publish_run_events(platform: Platform) -> None:
    refused = await publish(platform, "events-gateway", "pubsub-broadcast", "run-events")
    assert refused.status_code == 403
    assert "ERR_PUBSUB_FORBIDDEN" in refused.text


def with_foreign_subscription(components: Path, target: Path) -> Path:
    """A copy of components/ where events-gateway also subscribes to run-cancel-requested."""
    shutil.copytree(components, target)
    foreign = {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": "gateway-wants-cancels"},
        "spec": {
            "pubsubname": "pubsub-broadcast",
            "topic": "run-cancel-requested",
            "routes": {"default": "/dapr/run-events"},
        },
        "scopes": ["events-gateway"],
    }
    (target / "foreign-subscription.yaml").write_text(yaml.safe_dump(foreign))
    return target


def groups(backing: Backing, platform: Platform, stream: str) -> set[str]:
    """Consumer groups of a Redis stream of this platform."""
    client = redis_client(backing, platform.redis_db)
    return {group["name"].decode() for group in client.xinfo_groups(stream)}


async def new_groups(
    backing: Backing, platform: Platform, stream: str, before: set[str], seconds: float
) -> set[str]:
    """Groups of `stream` not in `before`, once one appears or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if appeared := groups(backing, platform, stream) - before:
            return appeared
        await asyncio.sleep(0.2)
    return set()


async def test_an_app_cannot_subscribe_to_a_topic_not_its_own(
    platform: Platform, backing: Backing, tmp_path: Path
) -> None:
    before_events = groups(backing, platform, "run-events")
    before_cancels = groups(backing, platform, "run-cancel-requested")
    assert any(g.startswith("agent-runner-") for g in before_cancels)
    components = with_foreign_subscription(platform.components, tmp_path / "components")
    replica = platform.start("events-gateway", name="gateway-foreign", components=components)
    try:
        await platform.wait_ready(replica)
        # Its own subscription goes live (a new group on run-events, as for any replica) ...
        own = await new_groups(backing, platform, "run-events", before_events, 30)
        assert len(own) == 1
        assert next(iter(own)).startswith("events-gateway-")
        # ... the one it declared on a topic it does not own never does.
        assert (
            await new_groups(backing, platform, "run-cancel-requested", before_cancels, 3) == set()
        )
    finally:
        replica.stop()
