"""components/subscriptions.yaml and the programmatic list are the same subscriptions."""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from dursor_contracts.subscriptions import SUBSCRIPTIONS
from dursor_kit.web.app import create_service_app, no_lifespan
from dursor_kit.web.subscriptions import subscription_router

COMPONENTS = Path(__file__).resolve().parents[3] / "components"

NO_LIFESPAN = contextlib.asynccontextmanager(no_lifespan)


def _declared() -> set[tuple[str, str, str, str, str | None]]:
    found = set()
    for doc in yaml.safe_load_all((COMPONENTS / "subscriptions.yaml").read_text()):
        spec = doc["spec"]
        for app_id in doc["scopes"]:
            found.add(
                (
                    app_id,
                    spec["pubsubname"],
                    spec["topic"],
                    spec["routes"]["default"],
                    spec.get("deadLetterTopic"),
                )
            )
    return found


def test_declarative_file_equals_the_list() -> None:
    listed = {(s.app_id, s.pubsub, s.topic, s.route, s.dead_letter_topic) for s in SUBSCRIPTIONS}
    assert _declared() == listed


def test_every_topic_but_dead_letters_has_a_dead_letter_topic() -> None:
    for subscription in SUBSCRIPTIONS:
        if subscription.topic.endswith("-dlq"):
            assert subscription.dead_letter_topic is None
        else:
            assert subscription.dead_letter_topic == f"{subscription.topic}-dlq"


def test_dapr_subscribe_answers_the_apps_own_entries() -> None:
    router = subscription_router("agent-runner")
    client = TestClient(create_service_app("t", NO_LIFESPAN, [router], app_api_token="sidecar"))
    assert client.get("/dapr/subscribe").status_code == 401  # only the sidecar asks
    entries = client.get("/dapr/subscribe", headers={"dapr-api-token": "sidecar"}).json()
    assert {e["topic"] for e in entries} == {
        "run-requested",
        "pr-requested",
        "run-cancel-requested",
    }
    assert all(e["deadLetterTopic"] == f"{e['topic']}-dlq" for e in entries)
