"""The committed topic contracts match the models: a contract change shows in review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dursor_contracts.events import RunEventV1, RunRequestedV1
from dursor_contracts.integrations import PullRequestUpdatedV1, RunLifecycleV1
from dursor_contracts.topics import ALL_TOPICS, INTEGRATION_TOPICS, PubSub
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


def test_every_integration_topic_has_a_schema_and_a_channel_on_its_own_component() -> None:
    asyncapi = json.loads((DOCS / "asyncapi.json").read_text())
    for topic in INTEGRATION_TOPICS:
        assert topic.pubsub is PubSub.INTEGRATIONS
        assert (DOCS / "contracts" / f"{topic.name}.v1.schema.json").exists()
        assert asyncapi["channels"][topic.name]["address"] == topic.name
        assert "integrations" in asyncapi["channels"][topic.name]["description"]
    # Submissions are refused into dead letters; what integrators consume has no -dlq of ours.
    assert "run-submissions-dlq" in asyncapi["channels"]
    assert "run-lifecycle-dlq" not in asyncapi["channels"]
    assert not {t.name for t in INTEGRATION_TOPICS} & {t.name for t in ALL_TOPICS}


def test_public_payloads_carry_no_log_lines_leases_or_secrets() -> None:
    internal = {"lines", "lease_owner", "lease_expires_at", "worker", "options", "instruction"}
    for model in (RunLifecycleV1, PullRequestUpdatedV1):
        fields = set(model.model_json_schema()["properties"])
        assert not fields & internal, (model.__name__, fields & internal)
        assert not [f for f in fields if "key" in f or "secret" in f or "token" in f]
    lifecycle = RunLifecycleV1.model_json_schema()
    assert lifecycle["properties"]["schema_version"]["const"] == 1
    assert {"run_id", "stage", "sequence", "status", "links"} <= set(lifecycle["required"])
