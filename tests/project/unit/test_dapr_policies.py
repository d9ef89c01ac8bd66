"""components/ grants each app exactly what the code uses: its secrets and its topics.

What Dapr does with these grants is tested against real sidecars in
tests/e2e/test_dapr_access_control.py; here the files are held to the code's lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dursor_contracts.subscriptions import SUBSCRIPTIONS
from dursor_contracts.topics import (
    ALL_TOPICS,
    EXAMPLE_INTEGRATION_APP,
    INTEGRATION_TOPICS,
    PUBLISHERS,
)
from dursor_kit.secret_names import APP_IDS, SECRETS_READ_BY

COMPONENTS = Path(__file__).resolve().parents[3] / "components"
PUBSUBS = ("pubsub", "pubsub-broadcast")


def configuration(app_id: str) -> dict[str, Any]:
    """The Dapr Configuration of one app's sidecar."""
    document: dict[str, Any] = yaml.safe_load(
        (COMPONENTS / "config" / f"{app_id}.yaml").read_text()
    )
    return document


def pubsub_metadata(name: str) -> dict[str, str]:
    """Literal metadata of a pub/sub component."""
    document = yaml.safe_load((COMPONENTS / f"{name}.yaml").read_text())
    return {m["name"]: m["value"] for m in document["spec"]["metadata"] if "value" in m}


def scoped(value: str) -> dict[str, set[str]]:
    """`app=t1,t2;app2=t3` as app -> topics."""
    pairs = (entry.split("=", 1) for entry in value.split(";"))
    return {app: set(topics.split(",")) for app, topics in pairs}


def topics_on(pubsub: str) -> set[str]:
    """Topics (and their dead-letter topics) that travel on one component."""
    names = {t.name for t in ALL_TOPICS if t.pubsub.value == pubsub}
    return names | {f"{name}-dlq" for name in names}


def expected_publishing(pubsub: str) -> dict[str, set[str]]:
    """What the outbox relays publish, plus each subscriber's sidecar dead-lettering."""
    found: dict[str, set[str]] = {}
    for app, topics in PUBLISHERS.items():
        found.setdefault(app, set()).update(t.name for t in topics if t.pubsub.value == pubsub)
    for sub in SUBSCRIPTIONS:
        if sub.pubsub == pubsub and sub.dead_letter_topic:
            found.setdefault(sub.app_id, set()).add(sub.dead_letter_topic)
    return {app: topics for app, topics in found.items() if topics}


def expected_subscriptions(pubsub: str) -> dict[str, set[str]]:
    """What components/subscriptions.yaml (and /dapr/subscribe) subscribe each app to."""
    found: dict[str, set[str]] = {}
    for sub in SUBSCRIPTIONS:
        if sub.pubsub == pubsub:
            found.setdefault(sub.app_id, set()).add(sub.topic)
    return found


@pytest.mark.parametrize("app_id", APP_IDS)
def test_each_sidecar_may_read_only_the_secrets_its_app_reads(app_id: str) -> None:
    (scope,) = configuration(app_id)["spec"]["secrets"]["scopes"]
    assert scope["storeName"] == "secretstore"
    assert scope["defaultAccess"] == "deny"
    assert scope["allowedSecrets"] == list(SECRETS_READ_BY[app_id])


def test_the_jwt_signing_keys_are_read_by_auth_alone() -> None:
    readers = {app for app, names in SECRETS_READ_BY.items() if "jwt-signing-keys" in names}
    assert readers == {"auth"}


@pytest.mark.parametrize("app_id", APP_IDS)
def test_every_sidecar_denies_invocations_by_default(app_id: str) -> None:
    control = configuration(app_id)["spec"]["accessControl"]
    assert control["defaultAction"] == "deny"
    for policy in control.get("policies", []):
        assert policy["defaultAction"] == "deny"
        assert all(op["action"] == "allow" and op["httpVerb"] for op in policy["operations"])


def test_only_the_gateway_the_runner_and_run_api_invoke_anything() -> None:
    callers = {
        (app_id, policy["appId"])
        for app_id in APP_IDS
        for policy in configuration(app_id)["spec"]["accessControl"].get("policies", [])
    }
    assert callers == {
        ("run-api", "events-gateway"),
        ("auth", "events-gateway"),
        ("auth", "agent-runner"),
        ("auth", "run-api"),
    }


def test_no_caller_may_reach_dapr_deliveries_and_only_named_internal_operations() -> None:
    operations = {
        (app_id, policy["appId"], op["name"])
        for app_id in APP_IDS
        for policy in configuration(app_id)["spec"]["accessControl"].get("policies", [])
        for op in policy["operations"]
    }
    assert not [op for op in operations if op[2].startswith("/dapr")]
    assert {op for op in operations if not op[2].startswith("/v1/")} == {
        ("run-api", "events-gateway", "/internal/github/events"),
        ("auth", "agent-runner", "/internal/github/installation-token"),
        ("auth", "run-api", "/internal/github/permission"),
        # The gateway's readiness asks run-api's and auth's.
        ("run-api", "events-gateway", "/readyz"),
        ("auth", "events-gateway", "/readyz"),
    }


def test_configurations_differ_only_in_policy_and_secrets() -> None:
    shared = [
        {
            k: v
            for k, v in configuration(app)["spec"].items()
            if k not in ("secrets", "accessControl")
        }
        for app in APP_IDS
    ]
    assert all(spec == shared[0] for spec in shared)
    assert shared[0]["mtls"]["enabled"] is True


@pytest.mark.parametrize("pubsub", PUBSUBS)
def test_each_app_publishes_only_its_own_topics(pubsub: str) -> None:
    metadata = pubsub_metadata(pubsub)
    assert scoped(metadata["publishingScopes"]) == expected_publishing(pubsub)


@pytest.mark.parametrize("pubsub", PUBSUBS)
def test_each_app_subscribes_only_to_its_own_topics(pubsub: str) -> None:
    metadata = pubsub_metadata(pubsub)
    assert scoped(metadata["subscriptionScopes"]) == expected_subscriptions(pubsub)


@pytest.mark.parametrize("pubsub", PUBSUBS)
def test_only_known_topics_exist_and_every_one_needs_a_grant(pubsub: str) -> None:
    metadata = pubsub_metadata(pubsub)
    assert set(metadata["allowedTopics"].split(",")) == topics_on(pubsub)
    assert set(metadata["protectedTopics"].split(",")) == topics_on(pubsub)


def test_the_gateway_publishes_nothing_but_dead_letters_of_its_deliveries() -> None:
    published = set().union(
        *(
            scoped(pubsub_metadata(p)["publishingScopes"]).get("events-gateway", set())
            for p in PUBSUBS
        )
    )
    assert published == {"run-events-dlq"}
    assert "events-gateway" not in PUBLISHERS
    assert "auth" not in PUBLISHERS


def test_the_integrations_component_grants_integrators_only_the_public_topics() -> None:
    metadata = pubsub_metadata("integrations")
    public = {t.name for t in INTEGRATION_TOPICS}
    assert set(metadata["allowedTopics"].split(",")) == public | {"run-submissions-dlq"}
    assert metadata["protectedTopics"] == metadata["allowedTopics"]
    relays = {
        app: {t.name for t in topics if t in INTEGRATION_TOPICS}
        for app, topics in PUBLISHERS.items()
    }
    assert scoped(metadata["publishingScopes"]) == {
        "run-api": relays["run-api"] | {"run-submissions-dlq"},
        "agent-runner": relays["agent-runner"],
        EXAMPLE_INTEGRATION_APP: {"run-submissions"},
    }
    assert scoped(metadata["subscriptionScopes"]) == {
        "run-api": {"run-submissions", "run-submissions-dlq"},
        EXAMPLE_INTEGRATION_APP: {"run-lifecycle", "pull-request-updated"},
    }
    assert relays["run-api"] == relays["agent-runner"] == {"run-lifecycle", "pull-request-updated"}
    # One message at a time per consumer: a run's messages arrive in publishing order.
    assert metadata["concurrency"] == "1"


def test_no_integration_app_may_load_the_internal_components() -> None:
    for name in (*PUBSUBS, "statestore"):
        document = yaml.safe_load((COMPONENTS / f"{name}.yaml").read_text())
        assert EXAMPLE_INTEGRATION_APP not in document["scopes"]
    document = yaml.safe_load((COMPONENTS / "integrations.yaml").read_text())
    assert set(document["scopes"]) == {"run-api", "agent-runner", EXAMPLE_INTEGRATION_APP}
