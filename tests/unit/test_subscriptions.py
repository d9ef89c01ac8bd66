"""components/subscriptions.yaml and the programmatic list are the same subscriptions."""

from __future__ import annotations

from pathlib import Path

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dursor_contracts.subscriptions import SUBSCRIPTIONS, subscription_router

COMPONENTS = Path(__file__).resolve().parents[2] / "components"


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
    app = FastAPI()
    app.include_router(subscription_router("agent-runner"))
    entries = TestClient(app).get("/dapr/subscribe").json()
    assert {e["topic"] for e in entries} == {
        "run-requested",
        "pr-requested",
        "run-cancel-requested",
    }
    assert all(e["deadLetterTopic"] == f"{e['topic']}-dlq" for e in entries)
