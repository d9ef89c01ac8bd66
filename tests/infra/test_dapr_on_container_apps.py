"""components/ and dapr.yaml against their Container Apps counterparts in infra/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tree_sitter import Node, Tree

from .bicep_tree import (
    Resource,
    module_calls,
    prop,
    properties,
    resolve,
    resources,
    string_list,
    string_value,
    text,
    walk,
)
from .conftest import dapr_apps, dapr_documents

COMPONENT = "Microsoft.App/managedEnvironments/daprComponents"
RESILIENCY = "Microsoft.App/managedEnvironments/daprComponents/resiliencyPolicies"
CONTAINER_APP = "Microsoft.App/containerApps"
LOCAL_COMPONENTS = {doc["metadata"]["name"]: doc for doc in dapr_documents("Component")}
# Stores that exist only on a laptop; Azure uses another store of the same family.
LOCAL_ONLY_TYPES = ("secretstores.local.",)
SAME_STORE = sorted(
    n for n, d in LOCAL_COMPONENTS.items() if not d["spec"]["type"].startswith(LOCAL_ONLY_TYPES)
)


def aca_components(tree: Tree) -> dict[str, Resource]:
    """Dapr components declared for the Container Apps environment, by component name."""
    found = {}
    for resource in resources(tree, COMPONENT):
        found[string_value(prop(resource.body, "name")) or resource.symbol] = resource
    return found


def family(component_type: str) -> str:
    """`pubsub` of `pubsub.redis`: what a component is, whatever backs it."""
    return component_type.split(".", 1)[0]


def metadata_entries(node: Node, tree: Tree) -> dict[str, str]:
    """name -> literal value of a metadata list, through concat() and variables."""
    node = resolve(node, tree)
    if node.type == "call_expression":
        entries: dict[str, str] = {}
        for argument in node.named_children[1].named_children:
            entries |= metadata_entries(argument, tree)
        return entries
    items = [resolve(item, tree) for item in node.named_children] if node.type == "array" else []
    pairs = ((string_value(prop(i, "name")), string_value(prop(i, "value"))) for i in items)
    return {name: value for name, value in pairs if name is not None and value is not None}


def local_literal_metadata(component: dict[str, Any]) -> dict[str, str]:
    """Metadata of a local component given as values (envRef ones are connection details)."""
    return {m["name"]: str(m["value"]) for m in component["spec"]["metadata"] if "value" in m}


def test_every_component_has_an_aca_counterpart(template: dict[str, Tree]) -> None:
    """Same names, same type family (pubsub.*, state.*, secretstores.*)."""
    declared = aca_components(template["dapr-components"])
    assert set(LOCAL_COMPONENTS) <= set(declared)
    for name, local in LOCAL_COMPONENTS.items():
        aca_type = string_value(prop(declared[name].body, "properties", "componentType"))
        assert aca_type is not None, f"{name}: componentType is not a literal"
        assert family(aca_type) == family(local["spec"]["type"]), name


@pytest.mark.parametrize("name", sorted(LOCAL_COMPONENTS))
def test_component_scopes_match(name: str, template: dict[str, Tree]) -> None:
    """The same apps may use the component locally and on Container Apps."""
    aca = aca_components(template["dapr-components"])[name]
    scopes = prop(aca.body, "properties", "scopes")
    aca_scopes = set(string_list(scopes) or []) if scopes is not None else None
    local_scopes = LOCAL_COMPONENTS[name].get("scopes")
    assert aca_scopes == (set(local_scopes) if local_scopes else None)


@pytest.mark.parametrize("name", SAME_STORE)
def test_component_settings_match(name: str, template: dict[str, Tree]) -> None:
    """Same store type, consumer groups, timeouts, concurrency and stream caps as components/."""
    local = LOCAL_COMPONENTS[name]
    aca = aca_components(template["dapr-components"])[name]
    assert string_value(prop(aca.body, "properties", "componentType")) == local["spec"]["type"]
    metadata = prop(aca.body, "properties", "metadata")
    assert metadata is not None, f"{name}: no metadata"
    aca_metadata = metadata_entries(metadata, template["dapr-components"])
    assert local_literal_metadata(local).items() <= aca_metadata.items()


def test_secretstore_is_key_vault_with_the_managed_identity(template: dict[str, Tree]) -> None:
    """In Azure the secret store is Key Vault, read as the user-assigned identity."""
    secretstore = aca_components(template["dapr-components"])["secretstore"].body
    assert string_value(prop(secretstore, "properties", "componentType")) == (
        "secretstores.azure.keyvault"
    )
    metadata = prop(secretstore, "properties", "metadata")
    assert metadata is not None
    names = {string_value(prop(item, "name")) for item in metadata.named_children}
    assert {"vaultName", "azureClientId"} <= names


def retry_targets() -> dict[str, dict[str, Any]]:
    """Component name -> inbound retry policy of every Resiliency spec in components/."""
    targets = {}
    for spec in (doc["spec"] for doc in dapr_documents("Resiliency")):
        for component, directions in spec["targets"]["components"].items():
            policy_name = directions.get("inbound", {}).get("retry")
            if policy_name:
                targets[component] = spec["policies"]["retries"][policy_name]
    return targets


def seconds_of(duration: str) -> float:
    """Seconds of a Go duration such as `8s` or `200ms`."""
    match = re.fullmatch(r"([\d.]+)(ms|s|m)", duration)
    assert match is not None, f"unsupported duration {duration!r}"
    return float(match[1]) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match[2]]


def inbound_policies(tree: Tree) -> dict[str, list[Node]]:
    """Component name -> inboundPolicy of each resiliencyPolicies resource under it."""
    symbols = {resource.symbol: name for name, resource in aca_components(tree).items()}
    found: dict[str, list[Node]] = {}
    for policy in resources(tree, RESILIENCY):
        parent, settings = prop(policy.body, "parent"), prop(policy.body, "properties")
        if parent is not None and settings is not None:
            inbound = prop(resolve(settings, tree), "inboundPolicy")
            found.setdefault(symbols.get(text(parent), text(parent)), []).append(
                inbound or settings
            )
    return found


def number(node: Node | None) -> int:
    """Value of an integer literal."""
    assert node is not None, "missing number"
    assert node.type == "number", text(node)
    return int(text(node))


@pytest.mark.parametrize("component", sorted(retry_targets()))
def test_resiliency_is_a_policy_of_the_component(component: str, template: dict[str, Tree]) -> None:
    """Each component the Resiliency spec retries has a resiliencyPolicies child alike."""
    policies = inbound_policies(template["dapr-components"]).get(component, [])
    assert len(policies) == 1, f"{component}: {len(policies)} resiliency policies"
    retry, local = prop(policies[0], "httpRetryPolicy"), retry_targets()[component]
    assert retry is not None, f"{component}: no inbound HTTP retry"
    assert number(prop(retry, "maxRetries")) == local["maxRetries"]
    max_interval = number(prop(retry, "retryBackOff", "maxIntervalInMilliseconds"))
    assert max_interval == seconds_of(local["maxInterval"]) * 1000


def service_calls(template: dict[str, Tree]) -> dict[str, dict[str, Node]]:
    """Dapr app id -> params of each container-app.bicep module call."""
    calls = [
        c
        for c in module_calls(template["container-apps"])
        if c.path.endswith("container-app.bicep")
    ]
    return {string_value(c.params["appId"]) or "?": c.params for c in calls}


def test_every_dapr_app_has_a_container_app(template: dict[str, Tree]) -> None:
    """One Container App per app id of dapr.yaml, on the same app port."""
    calls = service_calls(template)
    assert set(calls) == set(dapr_apps())
    assert {app: int(text(params["appPort"])) for app, params in calls.items()} == dapr_apps()


def test_container_app_enables_dapr_with_its_app_id(template: dict[str, Tree]) -> None:
    """The app's sidecar gets the app id, app port and HTTP protocol it is called with."""
    (app,) = resources(template["container-app"], CONTAINER_APP)
    dapr = prop(app.body, "properties", "configuration", "dapr")
    assert dapr is not None
    settings = {name: text(value) for name, value in properties(dapr).items()}
    expected = {"enabled": "true", "appId": "appId", "appPort": "appPort", "appProtocol": "'http'"}
    assert expected.items() <= settings.items()
    assert "userAssignedIdentities" in text(prop(app.body, "identity") or app.body)


def test_only_the_gateway_has_external_ingress(template: dict[str, Tree]) -> None:
    """events-gateway is the one public entry point."""
    ingress = {app: string_value(p["ingress"]) for app, p in service_calls(template).items()}
    assert [app for app, mode in ingress.items() if mode == "external"] == ["events-gateway"]


@pytest.mark.parametrize("app", ["events-gateway", "run-api"])
def test_http_services_scale_on_concurrent_requests(app: str, template: dict[str, Tree]) -> None:
    """The gateway and run-api add replicas on HTTP concurrency."""
    rules = text(service_calls(template)[app]["scaleRules"])
    # In an array the grammar splits `f(x)` into two items, so the call is matched as text.
    assert re.search(r"\bhttpScaleRule\(", rules), rules


def test_agent_runner_scales_on_the_run_requested_stream(template: dict[str, Tree]) -> None:
    """KEDA redis-streams on run-requested, for the consumer group pubsub gives agent-runner."""
    tree = template["container-apps"]
    rules = service_calls(template)["agent-runner"]["scaleRules"]
    rule = resolve(rules.named_children[0], tree)
    literals = {string_value(n) for n in walk(rule)}
    assert {"redis-streams", "run-requested", "agent-runner"} <= literals
    # Dapr's consumer group is the consumerID, which defaults to the app id.
    assert "consumerID" not in local_literal_metadata(LOCAL_COMPONENTS["pubsub"])
    assert string_value(prop(rule, "custom", "metadata")) is None
