"""The published contract of every topic: JSON Schema per payload and one AsyncAPI document.

`python -m dursor_kit.docs docs/contracts` rewrites the files; a snapshot test
fails when the models and the committed documents disagree, so a contract change
shows in review.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from dursor_contracts.events import DeadLetterV1
from dursor_contracts.topics import (
    ALL_TOPICS,
    EXAMPLE_INTEGRATION_APP,
    INTEGRATION_TOPICS,
    RUN_SUBMISSIONS,
    PubSub,
    Topic,
)

PRODUCERS = {
    "run-requested": ["run-api", "agent-runner"],
    "run-cancel-requested": ["run-api"],
    "run-events": ["run-api", "agent-runner"],
    "pr-requested": ["run-api"],
    "run-lifecycle": ["run-api", "agent-runner"],
    "pull-request-updated": ["run-api", "agent-runner"],
    "run-submissions": [EXAMPLE_INTEGRATION_APP],
}
CONSUMERS = {
    "run-requested": ["agent-runner"],
    "run-cancel-requested": ["agent-runner"],
    "run-events": ["events-gateway"],
    "pr-requested": ["agent-runner"],
    "run-lifecycle": [EXAMPLE_INTEGRATION_APP],
    "pull-request-updated": [EXAMPLE_INTEGRATION_APP],
    "run-submissions": ["run-api"],
}
DELIVERY = {
    PubSub.WORK: "one replica of each consuming app receives each message (work queue)",
    PubSub.BROADCAST: "every replica of each consuming app receives each message (fan-out)",
    PubSub.INTEGRATIONS: "public integration topic; one replica of each consuming app "
    "receives each message, one at a time in publishing order, and an app's consumer group "
    "resumes where it stopped after a restart",
}
# Topics whose consumer dead-letters what it could not take (run-api records them).
DEAD_LETTERED = (*ALL_TOPICS, RUN_SUBMISSIONS)


def schema_file(topic: Topic) -> str:
    """File name of a topic payload's JSON Schema."""
    return f"{topic.name}.v{topic.version}.schema.json"


def payload_schema(topic: Topic) -> dict[str, Any]:
    """JSON Schema (2020-12) of the topic's payload."""
    schema = topic.model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://dursor.cloud/contracts/{schema_file(topic)}",
        **schema,
    }


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.0 description of every topic and its dead-letter topic."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in (*ALL_TOPICS, *INTEGRATION_TOPICS):
        message = topic.model.__name__
        messages[message] = _message(topic)
        channels[topic.name] = _channel(topic, message)
        operations |= _operations(topic)
    for topic in DEAD_LETTERED:
        channels[topic.dead_letter] = _dead_letter_channel(topic)
        operations[f"run-api.receive.{topic.dead_letter}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{topic.dead_letter}"},
        }
    messages["DeadLetterV1"] = {
        "name": "DeadLetterV1",
        "contentType": "application/cloudevents+json",
        "payload": DeadLetterV1.model_json_schema(mode="serialization"),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dursor cloud topics",
            "version": "1.0.0",
            "description": "Dapr pub/sub topics (CloudEvents 1.0 envelopes) that dursor "
            "services and other teams' services integrate through.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "redis": {
                "host": "redis:6379",
                "protocol": "redis",
                "description": "Redis Streams behind the Dapr pubsub components",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _message(topic: Topic) -> dict[str, Any]:
    return {
        "name": topic.model.__name__,
        "title": topic.cloudevent_type,
        "summary": (topic.model.__doc__ or "").strip(),
        "contentType": "application/cloudevents+json",
        "payload": {"$ref": f"contracts/{schema_file(topic)}"},
    }


def _channel(topic: Topic, message: str) -> dict[str, Any]:
    undeliverable = (
        f" Undeliverable messages go to `{topic.dead_letter}`." if topic in DEAD_LETTERED else ""
    )
    return {
        "address": topic.name,
        "description": f"Dapr component `{topic.pubsub.value}`: {DELIVERY[topic.pubsub]}."
        + undeliverable,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
    }


def _dead_letter_channel(topic: Topic) -> dict[str, Any]:
    return {
        "address": topic.dead_letter,
        "description": f"What `{topic.name}` subscribers rejected after the resiliency "
        "retries; run-api records each one (and notes it on its run).",
        "messages": {"DeadLetterV1": {"$ref": "#/components/messages/DeadLetterV1"}},
    }


def _operations(topic: Topic) -> dict[str, Any]:
    channel = {"$ref": f"#/channels/{topic.name}"}
    ops: dict[str, Any] = {}
    for app in PRODUCERS[topic.name]:
        ops[f"{app}.publish.{topic.name}"] = {"action": "send", "channel": channel}
    for app in CONSUMERS[topic.name]:
        ops[f"{app}.receive.{topic.name}"] = {"action": "receive", "channel": channel}
    return ops


def documents() -> dict[str, str]:
    """Every published file, relative to the docs folder, with its exact content."""
    files = {
        f"contracts/{schema_file(t)}": _dump(payload_schema(t))
        for t in (*ALL_TOPICS, *INTEGRATION_TOPICS)
    }
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Write the documents under the folder given as the first argument (default: docs)."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    for name, content in documents().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


if __name__ == "__main__":
    main()
