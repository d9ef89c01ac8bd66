"""What leaves the VNet (only the allowlist, through the firewall and the NAT gateway) and
where every resource's logs go (Log Analytics)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree_sitter import Node, Tree

from .bicep_tree import (
    declarations,
    declared_name,
    first_string,
    prop,
    resources,
    string_list,
    string_value,
    text,
    variables,
)
from .conftest import relative

# Resource types that must send their logs and metrics to Log Analytics.
DIAGNOSABLE = {
    "Microsoft.App/managedEnvironments",
    "Microsoft.Cdn/profiles",
    "Microsoft.KeyVault/vaults",
    "Microsoft.DBforPostgreSQL/flexibleServers",
    "Microsoft.Cache/redisEnterprise",
    "Microsoft.Cache/redisEnterprise/databases",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Storage/storageAccounts/blobServices",
    "Microsoft.ContainerRegistry/registries",
    "Microsoft.Network/azureFirewalls",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/publicIPAddresses",
    "Microsoft.Network/natGateways",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.OperationalInsights/workspaces",
}
DIAGNOSTIC = "Microsoft.Insights/diagnosticSettings"
SEED_EGRESS = {
    "github": {"github.com", "api.github.com"},
    "llmProviders": {"api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com"},
    "packageRegistries": {"pypi.org", "files.pythonhosted.org", "registry.npmjs.org"},
}


def subnet(template: dict[str, Tree], name: str) -> Node:
    """Properties of one subnet of the VNet."""
    (vnet,) = resources(template["networking"], "Microsoft.Network/virtualNetworks")
    subnets = prop(vnet.body, "properties", "subnets")
    assert subnets is not None
    (found,) = [s for s in subnets.named_children if string_value(prop(s, "name")) == name]
    settings = prop(found, "properties")
    assert settings is not None
    return settings


def test_apps_route_everything_through_the_firewall(template: dict[str, Tree]) -> None:
    """0.0.0.0/0 from the apps subnet goes to the firewall's address in its own subnet."""
    tree = template["networking"]
    assert text(prop(subnet(template, "apps"), "routeTable", "id") or tree.root_node) == (
        "egressRoutes.id"
    )
    (table,) = resources(tree, "Microsoft.Network/routeTables")
    (route,) = (prop(table.body, "properties", "routes") or table.body).named_children
    assert string_value(prop(route, "properties", "addressPrefix")) == "0.0.0.0/0"
    assert string_value(prop(route, "properties", "nextHopType")) == "VirtualAppliance"
    assert text(prop(route, "properties", "nextHopIpAddress") or route) == "firewallPrivateIp"
    assert text(variables(tree)["firewallPrivateIp"]) == "cidrHost(firewallSubnetPrefix, 3)"


def test_firewall_leaves_through_the_nat_gateway(template: dict[str, Tree]) -> None:
    """The firewall sits in AzureFirewallSubnet, whose outbound SNAT is the NAT gateway."""
    firewall_subnet = subnet(template, "AzureFirewallSubnet")
    assert text(prop(firewall_subnet, "natGateway", "id") or firewall_subnet) == "natGateway.id"
    (firewall,) = resources(template["egress"], "Microsoft.Network/azureFirewalls")
    configs = text(prop(firewall.body, "properties", "ipConfigurations") or firewall.body)
    assert "id: firewallSubnetId" in configs


@pytest.mark.parametrize("name", ["apps", "data"])
def test_workload_subnets_have_no_default_outbound_access(
    name: str, template: dict[str, Tree]
) -> None:
    """Nothing leaves the apps or data subnet except by the route above."""
    settings = subnet(template, name)
    assert text(prop(settings, "defaultOutboundAccess") or settings) == "false"


def test_allowlist_names_what_the_seed_asks_for(template: dict[str, Tree]) -> None:
    """GitHub, the LLM providers and the package registries of a run's setup phase."""
    allowed = variables(template["egress"])["allowedFqdns"]
    for group, hosts in SEED_EGRESS.items():
        listed = set(string_list(prop(allowed, group)) or [])
        assert hosts <= listed, group


def test_firewall_denies_what_is_not_allowed(template: dict[str, Tree]) -> None:
    """Only Allow collections exist: everything else meets the firewall's default deny."""
    (group,) = resources(
        template["egress"], "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
    )
    collections = (prop(group.body, "properties", "ruleCollections") or group.body).named_children
    assert collections
    for collection in collections:
        assert string_value(prop(collection, "action", "type")) == "Allow"
    rules = text(prop(group.body, "properties") or group.body)
    assert "'0.0.0.0/0'" not in rules
    assert "'*'" not in rules


def diagnosed_symbols(tree: Tree) -> set[str]:
    """Symbols that a diagnostic setting to Log Analytics is scoped to."""
    found = set()
    for setting in resources(tree, DIAGNOSTIC):
        scope = prop(setting.body, "scope")
        workspace = prop(setting.body, "properties", "workspaceId")
        if scope is not None and workspace is not None:
            found.add(text(scope).split("[")[0])
    return found


def test_every_diagnosable_resource_logs_to_log_analytics(trees: dict[Path, Tree]) -> None:
    """PostgreSQL, Redis, Storage, the environment, Front Door, the firewall, ... all of them."""
    missing = []
    kinds = set()
    for path, tree in trees.items():
        covered = diagnosed_symbols(tree)
        for declaration in declarations(tree, "resource_declaration"):
            if any(child.type == "existing" for child in declaration.children):
                continue
            kind = first_string(declaration).partition("@")[0]
            if kind in DIAGNOSABLE:
                kinds.add(kind)
                if declared_name(declaration) not in covered:
                    missing.append(f"{relative(path)}: {declared_name(declaration)} ({kind})")
    assert missing == []
    assert kinds == DIAGNOSABLE
