// Egress allowlist: the apps subnet routes 0.0.0.0/0 to this Azure Firewall, which lets
// through only what the platform and the seed's network section need: the Container Apps
// platform itself (Entra ID, Azure Monitor, container registries), GitHub, the LLM
// providers and the package registries a run's setup phase installs from. Everything
// else is denied and logged. The firewall's own outbound SNAT goes through the NAT
// gateway of its subnet (networking.bicep).

param name string
param location string
param tags object
@allowed([
  'Basic'
  'Standard'
])
param tier string
param firewallSubnetId string
param firewallManagementSubnetId string
param appsSubnetPrefix string
param registryLoginServer string
param logAnalyticsWorkspaceId string
@description('Host names a deployment adds to the allowlist (e.g. a GitHub Enterprise Server, a private package mirror).')
param extraAllowedFqdns string[] = []
param zones string[] = []

var basic = tier == 'Basic'

// What the seed's network section names (GitHub, LLM providers) and what a run's setup
// phase installs from. Wildcards are one level deep, per Azure Firewall FQDN rules.
var allowedFqdns = {
  github: [
    'github.com'
    'api.github.com'
    'codeload.github.com'
    'objects.githubusercontent.com'
    'raw.githubusercontent.com'
  ]
  llmProviders: [
    'api.openai.com'
    'api.anthropic.com'
    'generativelanguage.googleapis.com'
    'cloudcode-pa.googleapis.com'
    'oauth2.googleapis.com'
  ]
  packageRegistries: [
    'pypi.org'
    'files.pythonhosted.org'
    'registry.npmjs.org'
    'proxy.golang.org'
    'sum.golang.org'
    'index.crates.io'
    'static.crates.io'
    'crates.io'
    'repo.maven.apache.org'
    'repo1.maven.org'
    'deb.debian.org'
    'security.debian.org'
  ]
  // Container Apps' own dependencies with user-defined routes (Microsoft's list).
  platform: [
    'mcr.microsoft.com'
    '*.data.mcr.microsoft.com'
    registryLoginServer
    '*.data.azurecr.io'
    'login.microsoftonline.com'
    '*.login.microsoftonline.com'
    'login.microsoft.com'
    '*.login.microsoft.com'
    '*.identity.azure.net'
    '*.in.applicationinsights.azure.com'
    '*.livediagnostics.monitor.azure.com'
  ]
}

resource policy 'Microsoft.Network/firewallPolicies@2026-03-01' = {
  name: '${name}-policy'
  location: location
  tags: tags
  properties: {
    sku: {
      tier: tier
    }
    // Basic policies support threat intelligence in alert mode only.
    threatIntelMode: basic ? 'Alert' : 'Deny'
  }
}

func applicationRule(ruleName string, sources string, fqdns string[]) object => {
  ruleType: 'ApplicationRule'
  name: ruleName
  sourceAddresses: [
    sources
  ]
  protocols: [
    {
      protocolType: 'Https'
      port: 443
    }
  ]
  targetFqdns: fqdns
}

resource allowlist 'Microsoft.Network/firewallPolicies/ruleCollectionGroups@2026-03-01' = {
  parent: policy
  name: 'dursor-egress'
  properties: {
    priority: 200
    ruleCollections: [
      {
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection'
        name: 'platform-service-tags'
        priority: 100
        action: {
          type: 'Allow'
        }
        rules: [
          {
            ruleType: 'NetworkRule'
            name: 'azure-platform'
            ipProtocols: [
              'TCP'
            ]
            sourceAddresses: [
              appsSubnetPrefix
            ]
            destinationAddresses: [
              'AzureActiveDirectory'
              'AzureMonitor'
              'AzureContainerRegistry'
              'MicrosoftContainerRegistry'
              'AzureFrontDoor.FirstParty'
            ]
            destinationPorts: [
              '443'
            ]
          }
        ]
      }
      {
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection'
        name: 'allowed-hosts'
        priority: 200
        action: {
          type: 'Allow'
        }
        rules: concat([
          applicationRule('container-apps-platform', appsSubnetPrefix, allowedFqdns.platform)
          applicationRule('github', appsSubnetPrefix, allowedFqdns.github)
          applicationRule('llm-providers', appsSubnetPrefix, allowedFqdns.llmProviders)
          applicationRule('package-registries', appsSubnetPrefix, allowedFqdns.packageRegistries)
        ], empty(extraAllowedFqdns) ? [] : [
          applicationRule('deployment-extras', appsSubnetPrefix, extraAllowedFqdns)
        ])
      }
    ]
  }
}

resource firewallAddress 'Microsoft.Network/publicIPAddresses@2026-03-01' = {
  name: '${name}-ip'
  location: location
  tags: tags
  zones: zones
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource managementAddress 'Microsoft.Network/publicIPAddresses@2026-03-01' = if (basic) {
  name: '${name}-mgmt-ip'
  location: location
  tags: tags
  zones: zones
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource firewall 'Microsoft.Network/azureFirewalls@2026-03-01' = {
  name: name
  location: location
  tags: tags
  zones: zones
  properties: {
    sku: {
      name: 'AZFW_VNet'
      tier: tier
    }
    firewallPolicy: {
      id: policy.id
    }
    ipConfigurations: [
      {
        name: 'egress'
        properties: {
          subnet: {
            id: firewallSubnetId
          }
          publicIPAddress: {
            id: firewallAddress.id
          }
        }
      }
    ]
    managementIpConfiguration: basic ? {
      name: 'management'
      properties: {
        subnet: {
          id: firewallManagementSubnetId
        }
        publicIPAddress: {
          id: managementAddress.id
        }
      }
    } : null
  }
  dependsOn: [
    allowlist
  ]
}

resource firewallLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: firewall
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // Resource-specific tables (AZFWApplicationRule, AZFWNetworkRule, ...).
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource firewallAddressLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: firewallAddress
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource managementAddressLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (basic) {
  name: 'to-log-analytics'
  scope: managementAddress
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output id string = firewall.id
output allowedFqdns object = allowedFqdns
