"""The committed topic contracts match the models: a contract change shows in review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dursor_contracts.events import RunEventV1, RunRequestedV1
from dursor_contracts.topics import ALL_TOPICS, PubSub
from dursor_kit.docs import documents

DOCS = Path(__file__).resolve().parents[3] / "docs"
REGENERATE = "run `uv run python -m dursor_kit.docs docs` and review the diff"


@pytest.mark.parametrize("name", sorted(documents()))
def test_published_document_matches_the_models(name: str) -> None:
    committed = DOCS / name
    assert committed.exists(), f"{name} is not published; {REGENERATE}"
    assert committed.read_text() == documents()[name], f"{name} changed; {REGENERATE}"


def test_every_topic_has_a_schema_a_channel_and_a_dead_letter_channel() -> None:
    asyncapi = json.loads((DOCS / "asyncapi.json").read_text())
    for topic in ALL_TOPICS:
        assert (DOCS / "contracts" / f"{topic.name}.v1.schema.json").exists()
        assert asyncapi["channels"][topic.name]["address"] == topic.name
        assert asyncapi["channels"][topic.dead_letter]["address"] == f"{topic.name}-dlq"


def test_payload_versions_are_pinned_in_the_schema() -> None:
    schema = RunRequestedV1.model_json_schema()
    assert schema["properties"]["schema_version"]["const"] == 1
    assert set(schema["required"]) == {"run_id", "task_id", "turn", "attempt"}


def test_run_events_fan_out_and_run_requests_are_work_queued() -> None:
    topics = {t.name: t for t in ALL_TOPICS}
    assert topics["run-events"].pubsub is PubSub.BROADCAST
    assert topics["run-cancel-requested"].pubsub is PubSub.BROADCAST
    assert topics["run-requested"].pubsub is PubSub.WORK
    assert topics["run-events"].model is RunEventV1
