"""components/ and dapr.yaml against their Container Apps counterparts in infra/.

Same component names, types, scopes and every setting that shapes behaviour (consumer
groups, timeouts, concurrency, stream caps, topic grants, key prefixes); only connection
details differ (envRefs locally; TLS, Entra ID and Key Vault in Azure), and Azure splits
the one secret store into one per app because Container Apps runs a component with one
identity for every app it is scoped to.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tree_sitter import Node, Tree

from .bicep_tree import (
    Resource,
    declarations,
    module_calls,
    prop,
    properties,
    resolve,
    resources,
    string_fragments,
    string_list,
    string_value,
    text,
    variables,
)
from .conftest import dapr_apps, dapr_documents

COMPONENT = "Microsoft.App/managedEnvironments/daprComponents"
RESILIENCY = "Microsoft.App/managedEnvironments/daprComponents/resiliencyPolicies"
CONTAINER_APP = "Microsoft.App/containerApps"
LOCAL_COMPONENTS = {doc["metadata"]["name"]: doc for doc in dapr_documents("Component")}
SECRET_STORE = "secretstore"
SAME_STORE = sorted(set(LOCAL_COMPONENTS) - {SECRET_STORE})
# How Azure connects where the laptop uses envRefs: not behaviour, so not compared.
AZURE_CONNECTION = {"redisHost", "enableTLS", "redisType", "useEntraID", "azureClientId"}


def aca_components(tree: Tree) -> dict[str, Resource]:
    """Dapr components with a literal name, by component name."""
    found = {}
    for resource in resources(tree, COMPONENT):
        name = string_value(prop(resource.body, "name"))
        if name is not None:
            found[name] = resource
    return found


def metadata_entries(node: Node, tree: Tree) -> dict[str, str]:
    """name -> literal value of a metadata list, through concat() and variables."""
    node = resolve(node, tree)
    if node.type == "call_expression":
        entries: dict[str, str] = {}
        for argument in node.named_children[1].named_children:
            entries |= metadata_entries(argument, tree)
        return entries
    items = [resolve(item, tree) for item in node.named_children] if node.type == "array" else []
    pairs = ((string_value(prop(i, "name")), prop(i, "value")) for i in items)
    return {name: text(value) for name, value in pairs if name is not None and value is not None}


def literal(value: str) -> str:
    """The content of a quoted Bicep string as metadata_entries returns it."""
    return value[1:-1] if value.startswith("'") and value.endswith("'") else value


def local_metadata(component: dict[str, Any]) -> dict[str, str]:
    """Metadata of a local component given as values (envRef ones are connection details)."""
    return {m["name"]: str(m["value"]) for m in component["spec"]["metadata"] if "value" in m}


def aca_metadata(name: str, template: dict[str, Tree]) -> dict[str, str]:
    """Metadata of an Azure component, connection details left out."""
    tree = template["dapr-components"]
    metadata = prop(aca_components(tree)[name].body, "properties", "metadata")
    assert metadata is not None, f"{name}: no metadata"
    entries = metadata_entries(metadata, tree)
    return {k: literal(v) for k, v in entries.items() if k not in AZURE_CONNECTION}


def test_every_component_has_an_aca_counterpart(template: dict[str, Tree]) -> None:
    """Every local component but the secret store exists in Azure under its own name."""
    declared = aca_components(template["dapr-components"])
    assert set(SAME_STORE) <= set(declared)
    assert SECRET_STORE in LOCAL_COMPONENTS


@pytest.mark.parametrize("name", SAME_STORE)
def test_component_type_and_scopes_match(name: str, template: dict[str, Tree]) -> None:
    """Same component type and the same apps may load it."""
    aca = aca_components(template["dapr-components"])[name]
    local = LOCAL_COMPONENTS[name]
    assert string_value(prop(aca.body, "properties", "componentType")) == local["spec"]["type"]
    scopes = string_list(prop(aca.body, "properties", "scopes"))
    assert set(scopes or []) == set(local.get("scopes") or [])


@pytest.mark.parametrize("name", SAME_STORE)
def test_component_behaviour_matches(name: str, template: dict[str, Tree]) -> None:
    """Every setting that is a value locally has that value in Azure, and nothing more."""
    assert aca_metadata(name, template) == local_metadata(LOCAL_COMPONENTS[name])


def test_parity_check_sees_the_settings_that_matter(template: dict[str, Tree]) -> None:
    """The comparison above covers consumer ids, timeouts, caps and topic grants."""
    compared = set().union(*(local_metadata(LOCAL_COMPONENTS[n]) for n in SAME_STORE))
    expected = {"consumerID", "processingTimeout", "redeliverInterval", "maxLenApprox"}
    assert expected <= compared
    assert "keyPrefix" not in aca_metadata("statestore", template)


def test_redis_components_sign_in_with_entra_id(template: dict[str, Tree]) -> None:
    """Azure Managed Redis over TLS, Entra ID and no password anywhere."""
    tree = template["dapr-components"]
    for name, resource in aca_components(tree).items():
        if not LOCAL_COMPONENTS[name]["spec"]["type"].endswith(".redis"):
            continue
        metadata = prop(resource.body, "properties", "metadata")
        assert metadata is not None
        entries = metadata_entries(metadata, tree)
        assert (entries["useEntraID"], entries["enableTLS"]) == ("'true'", "'true'"), name
        assert entries["azureClientId"] == "redisClientId", name
        assert "redisPassword" not in entries, name


def secret_store_resource(tree: Tree) -> Resource:
    """The per-app Key Vault store: one resource in a loop over the apps."""
    (found,) = [
        r
        for r in resources(tree, COMPONENT)
        if string_value(prop(r.body, "properties", "componentType"))
        == "secretstores.azure.keyvault"
    ]
    return found


def test_each_app_has_a_key_vault_store_of_its_own(template: dict[str, Tree]) -> None:
    """`secretstore-<app>`, read as that app's identity, loaded by that app alone."""
    store = secret_store_resource(template["dapr-components"])
    name = prop(store.body, "name")
    assert name is not None
    assert string_fragments(name) == ["secretstore-"]
    assert text(prop(store.body, "properties", "scopes") or store.body).split() == [
        "[",
        "app.key",
        "]",
    ]
    metadata = prop(store.body, "properties", "metadata")
    assert metadata is not None
    entries = metadata_entries(metadata, template["dapr-components"])
    assert entries == {"vaultName": "vaultName", "azureClientId": "app.value"}


def test_every_dapr_app_finds_its_own_secret_store(template: dict[str, Tree]) -> None:
    """DURSOR_SECRET_STORE names the app's store; every Dapr app gets one."""
    own_env = text(variables(template["container-apps"])["ownEnv"])
    assert re.search(r"name: 'DURSOR_SECRET_STORE'\s+value: 'secretstore-\$\{app\}'", own_env)
    components_call = next(
        c
        for c in module_calls(template["container-environment"])
        if c.path.endswith("dapr-components.bicep")
    )
    stores = text(components_call.params["secretStoreClientIds"])
    assert stores.startswith("toObject(daprApps,")
    main = {c.symbol: c.params for c in module_calls(template["main"])}
    assert text(main["containerEnvironment"]["daprApps"]) == "daprApps"
    assert text(main["containerApps"]["daprApps"]) == "daprApps"
    access = properties(variables(template["main"])["access"])
    assert set(access) == set(dapr_apps())


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


def number(node: Node | None) -> int:
    """Value of an integer literal."""
    assert node is not None, "missing number"
    assert node.type == "number", text(node)
    return int(text(node))


@pytest.mark.parametrize("component", sorted(retry_targets()))
def test_resiliency_is_a_policy_of_the_component(component: str, template: dict[str, Tree]) -> None:
    """Each component the Resiliency spec retries has a resiliencyPolicies child alike."""
    tree = template["dapr-components"]
    symbols = {resource.symbol: name for name, resource in aca_components(tree).items()}
    policies = [
        resolve(prop(p.body, "properties") or p.body, tree)
        for p in resources(tree, RESILIENCY)
        if symbols.get(text(prop(p.body, "parent") or p.body)) == component
    ]
    assert len(policies) == 1, f"{component}: {len(policies)} resiliency policies"
    retry, local = prop(policies[0], "inboundPolicy", "httpRetryPolicy"), retry_targets()[component]
    assert retry is not None, f"{component}: no inbound HTTP retry"
    assert number(prop(retry, "maxRetries")) == local["maxRetries"]
    max_interval = number(prop(retry, "retryBackOff", "maxIntervalInMilliseconds"))
    assert max_interval == seconds_of(local["maxInterval"]) * 1000


def service_calls(template: dict[str, Tree]) -> dict[str, dict[str, Node]]:
    """App id -> params of each container-app.bicep module call."""
    calls = [
        c
        for c in module_calls(template["container-apps"])
        if c.path.endswith("container-app.bicep")
    ]
    return {string_value(c.params["appId"]) or "?": c.params for c in calls}


def test_every_dapr_app_has_a_container_app(template: dict[str, Tree]) -> None:
    """One Container App per app id of dapr.yaml, on the same app port, plus the web UI."""
    calls = service_calls(template)
    assert set(calls) == {*dapr_apps(), "web"}
    ports = {app: int(text(params["appPort"])) for app, params in calls.items() if app != "web"}
    assert ports == dapr_apps()
    assert text(calls["web"]["daprEnabled"]) == "false"
    assert all("daprEnabled" not in params for app, params in calls.items() if app != "web")


def test_container_app_enables_dapr_with_its_app_id(template: dict[str, Tree]) -> None:
    """The app's sidecar gets the app id, app port and HTTP protocol it is called with."""
    tree = template["container-app"]
    (app,) = resources(tree, CONTAINER_APP)
    dapr = prop(app.body, "properties", "configuration", "dapr")
    assert dapr is not None
    assert text(dapr) == "daprEnabled ? daprSettings : null"
    settings = {
        name: text(value) for name, value in properties(variables(tree)["daprSettings"]).items()
    }
    expected = {"enabled": "true", "appId": "appId", "appPort": "appPort", "appProtocol": "'http'"}
    assert expected.items() <= settings.items()


def test_each_app_runs_as_its_own_identity(template: dict[str, Tree]) -> None:
    """No identity is shared between apps: each call passes identityOf[<its app id>]."""
    for app, params in service_calls(template).items():
        expected = {f"identityOf['{app}'].id", f"identityOf.{app}.id"}
        assert text(params["identityId"]) in expected, app


def test_ingress_exposes_only_the_gateway_and_the_web_ui(template: dict[str, Tree]) -> None:
    """`external` means the VNet (Front Door's Private Link); run-api and auth stay internal."""
    ingress = {app: string_value(p["ingress"]) for app, p in service_calls(template).items()}
    assert ingress == {
        "events-gateway": "external",
        "web": "external",
        "run-api": "internal",
        "auth": "internal",
        "agent-runner": "none",
    }


def test_subscriptions_are_served_programmatically(template: dict[str, Tree]) -> None:
    """Declarative subscriptions are preview-only on Container Apps: apps answer /dapr/subscribe."""
    shared = text(variables(template["container-apps"])["sharedEnv"])
    assert re.search(r"name: 'DURSOR_PROGRAMMATIC_SUBSCRIPTIONS'\s+value: 'true'", shared)
    declared = {
        text(d) for tree in template.values() for d in declarations(tree, "resource_declaration")
    }
    assert not any("daprSubscriptions" in d for d in declared)
