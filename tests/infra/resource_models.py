"""Which Azure SDK model (and API version) describes each resource type infra/ declares."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_VERSION_FOLDER = re.compile(r"\.v(\d{4})_(\d{2})_(\d{2})(_preview)?\.")
_DEFAULT_VERSION = re.compile(r'"api_version", "([0-9a-z-]+)"\)')
_OPERATION_VERSION = re.compile(r'"api-version", "([0-9a-z-]+)"\)')


@dataclass(frozen=True)
class ResourceModel:
    """The model class of a resource's request body in one SDK package."""

    module: str
    name: str
    api_version: str

    def load(self) -> type:
        """The model class."""
        model: type = getattr(importlib.import_module(self.module), self.name)
        return model

    def sdk_api_version(self) -> str:
        """The API version the SDK's models were generated from."""
        folder = _VERSION_FOLDER.search(f"{self.module}.")
        if folder is not None:
            year, month, day, preview = folder.groups()
            return f"{year}-{month}-{day}" + ("-preview" if preview else "")
        package = Path(importlib.import_module(self.module.rpartition(".")[0]).__file__ or "")
        configured = _DEFAULT_VERSION.search((package.parent / "_configuration.py").read_text())
        if configured is not None:
            return configured[1]
        # One client, several operation groups: the version most operations send.
        operations = (package.parent / "operations").glob("*.py")
        counts = Counter(v for f in operations for v in _OPERATION_VERSION.findall(f.read_text()))
        version: str = counts.most_common(1)[0][0]
        return version


def _models(module: str, api_version: str, **types: str) -> dict[str, ResourceModel]:
    return {rtype: ResourceModel(module, name, api_version) for rtype, name in types.items()}


APP = "Microsoft.App"
CDN = "Microsoft.Cdn/profiles"
NETWORK = "Microsoft.Network"
POSTGRES = "Microsoft.DBforPostgreSQL/flexibleServers"
REDIS = "Microsoft.Cache/redisEnterprise"
STORAGE = "Microsoft.Storage/storageAccounts"
INSIGHTS = "Microsoft.Insights"

RESOURCE_MODELS: dict[str, ResourceModel] = {
    **_models(
        "azure.mgmt.appcontainers.models",
        "2026-07-01",
        **{
            f"{APP}/managedEnvironments": "ManagedEnvironment",
            f"{APP}/containerApps": "ContainerApp",
            f"{APP}/jobs": "Job",
            f"{APP}/sessionPools": "SessionPool",
            f"{APP}/managedEnvironments/daprComponents": "DaprComponent",
            f"{APP}/managedEnvironments/daprComponents/resiliencyPolicies": (
                "DaprComponentResiliencyPolicy"
            ),
        },
    ),
    **_models(
        "azure.mgmt.cdn.models",
        "2026-10-01",
        **{
            CDN: "Profile",
            f"{CDN}/afdEndpoints": "AFDEndpoint",
            f"{CDN}/afdEndpoints/routes": "Route",
            f"{CDN}/originGroups": "AFDOriginGroup",
            f"{CDN}/originGroups/origins": "AFDOrigin",
            f"{CDN}/ruleSets": "RuleSet",
            f"{CDN}/ruleSets/rules": "Rule",
            f"{CDN}/securityPolicies": "SecurityPolicy",
        },
    ),
    **_models(
        "azure.mgmt.frontdoor.models",
        "2025-10-01",
        **{f"{NETWORK}/FrontDoorWebApplicationFirewallPolicies": "WebApplicationFirewallPolicy"},
    ),
    **_models(
        "azure.mgmt.postgresqlflexibleservers.models",
        "2026-10-01",
        **{
            POSTGRES: "Server",
            f"{POSTGRES}/administrators": "AdministratorMicrosoftEntra",
            f"{POSTGRES}/databases": "Database",
            f"{POSTGRES}/configurations": "Configuration",
        },
    ),
    **_models(
        "azure.mgmt.redisenterprise.models",
        "2025-07-01",
        **{
            REDIS: "Cluster",
            f"{REDIS}/databases": "Database",
            f"{REDIS}/databases/accessPolicyAssignments": "AccessPolicyAssignment",
        },
    ),
    **_models(
        "azure.mgmt.keyvault.models",
        "2026-05-15",
        **{
            "Microsoft.KeyVault/vaults": "VaultCreateOrUpdateParameters",
            "Microsoft.KeyVault/vaults/secrets": "SecretCreateOrUpdateParameters",
        },
    ),
    **_models(
        "azure.mgmt.storage.models",
        "2026-09-01",
        **{
            STORAGE: "StorageAccountCreateParameters",
            f"{STORAGE}/blobServices": "BlobServiceProperties",
            f"{STORAGE}/blobServices/containers": "BlobContainer",
            f"{STORAGE}/managementPolicies": "ManagementPolicy",
        },
    ),
    **_models(
        "azure.mgmt.network.models",
        "2026-03-01",
        **{
            f"{NETWORK}/virtualNetworks": "VirtualNetwork",
            f"{NETWORK}/networkSecurityGroups": "NetworkSecurityGroup",
            f"{NETWORK}/privateEndpoints": "PrivateEndpoint",
            f"{NETWORK}/privateEndpoints/privateDnsZoneGroups": "PrivateDnsZoneGroup",
            f"{NETWORK}/natGateways": "NatGateway",
            f"{NETWORK}/publicIPAddresses": "PublicIPAddress",
            f"{NETWORK}/routeTables": "RouteTable",
            f"{NETWORK}/azureFirewalls": "AzureFirewall",
            f"{NETWORK}/firewallPolicies": "FirewallPolicy",
            f"{NETWORK}/firewallPolicies/ruleCollectionGroups": "FirewallPolicyRuleCollectionGroup",
        },
    ),
    **_models(
        "azure.mgmt.privatedns.models",
        "2024-06-01",
        **{
            f"{NETWORK}/privateDnsZones": "PrivateZone",
            f"{NETWORK}/privateDnsZones/virtualNetworkLinks": "VirtualNetworkLink",
        },
    ),
    **_models(
        "azure.mgmt.monitor.v2021_05_01_preview.models",
        "2021-05-01-preview",
        **{f"{INSIGHTS}/diagnosticSettings": "DiagnosticSettingsResource"},
    ),
    **_models(
        "azure.mgmt.monitor.v2023_01_01.models",
        "2023-01-01",
        **{f"{INSIGHTS}/actionGroups": "ActionGroupResource"},
    ),
    **_models(
        "azure.mgmt.monitor.v2018_03_01.models",
        "2018-03-01",
        **{f"{INSIGHTS}/metricAlerts": "MetricAlertResource"},
    ),
    **_models(
        "azure.mgmt.monitor.v2022_08_01_preview.models",
        "2022-08-01-preview",
        **{f"{INSIGHTS}/scheduledQueryRules": "ScheduledQueryRuleResource"},
    ),
    **_models(
        "azure.mgmt.applicationinsights.v2020_02_02.models",
        "2020-02-02",
        **{f"{INSIGHTS}/components": "ApplicationInsightsComponent"},
    ),
    **_models(
        "azure.mgmt.loganalytics.models",
        "2025-07-01",
        **{"Microsoft.OperationalInsights/workspaces": "Workspace"},
    ),
    **_models(
        "azure.mgmt.msi.v2024_11_30.models",
        "2024-11-30",
        **{"Microsoft.ManagedIdentity/userAssignedIdentities": "Identity"},
    ),
    **_models(
        "azure.mgmt.containerregistry.models",
        "2025-11-01",
        **{"Microsoft.ContainerRegistry/registries": "Registry"},
    ),
    **_models(
        "azure.mgmt.authorization.v2022_04_01.models",
        "2022-04-01",
        **{"Microsoft.Authorization/roleAssignments": "RoleAssignment"},
    ),
}
