// The seed's VNet (10.0.0.0/16): the `apps` subnet holds the internal Container Apps
// environment, `data` the private endpoints of PostgreSQL, Redis, Blob and Key Vault,
// `AzureFirewallSubnet` the egress firewall. Nothing here has a public inbound address:
// Front Door reaches the environment through Private Link. All outbound traffic of the
// apps subnet goes through the firewall (route table), which leaves through a NAT gateway
// (fixed egress addresses, SNAT ports that scale). No subnet has default outbound access.

param name string
param location string
param tags object
param addressPrefix string
param appsSubnetPrefix string
param dataSubnetPrefix string
@description('AzureFirewallSubnet, at least /26.')
param firewallSubnetPrefix string
@description('AzureFirewallManagementSubnet, at least /26 (the Basic firewall needs it).')
param firewallManagementSubnetPrefix string
param logAnalyticsWorkspaceId string

// Azure reserves the first four addresses of a subnet: the firewall takes the fifth.
var firewallPrivateIp = cidrHost(firewallSubnetPrefix, 3)

var privateDnsZoneNames = {
  postgres: 'privatelink.postgres.database.azure.com'
  redis: 'privatelink.redis.azure.net'
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  keyVault: 'privatelink.vaultcore.azure.net'
}

resource appsNsg 'Microsoft.Network/networkSecurityGroups@2026-03-01' = {
  name: '${name}-apps-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        // Health probes of the environment's internal load balancer (workload profiles).
        name: 'allow-load-balancer-probes'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'AzureLoadBalancer'
          sourcePortRange: '*'
          destinationAddressPrefix: appsSubnetPrefix
          destinationPortRange: '30000-32767'
        }
      }
      {
        // Front Door's Private Link connection and the apps themselves come from the VNet.
        name: 'deny-internet-inbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource dataNsg 'Microsoft.Network/networkSecurityGroups@2026-03-01' = {
  name: '${name}-data-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        // PostgreSQL 5432 and PgBouncer 6432, Azure Managed Redis 10000 (TLS), HTTPS for Blob and Key Vault.
        name: 'allow-apps-to-data'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appsSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: dataSubnetPrefix
          destinationPortRanges: [
            '443'
            '5432'
            '6432'
            '10000'
          ]
        }
      }
      {
        name: 'deny-other-vnet-inbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'VirtualNetwork'
          sourcePortRange: '*'
          destinationAddressPrefix: dataSubnetPrefix
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource egressRoutes 'Microsoft.Network/routeTables@2026-03-01' = {
  name: '${name}-egress-rt'
  location: location
  tags: tags
  properties: {
    disableBgpRoutePropagation: true
    routes: [
      {
        name: 'internet-through-firewall'
        properties: {
          addressPrefix: '0.0.0.0/0'
          nextHopType: 'VirtualAppliance'
          nextHopIpAddress: firewallPrivateIp
        }
      }
    ]
  }
}

resource natAddress 'Microsoft.Network/publicIPAddresses@2026-03-01' = {
  name: '${name}-nat-ip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2026-03-01' = {
  name: '${name}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 10
    publicIpAddresses: [
      {
        id: natAddress.id
      }
    ]
  }
}

resource natMetrics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: natGateway
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2026-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: appsSubnetPrefix
          defaultOutboundAccess: false
          networkSecurityGroup: {
            id: appsNsg.id
          }
          routeTable: {
            id: egressRoutes.id
          }
          delegations: [
            {
              name: 'container-apps'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'data'
        properties: {
          addressPrefix: dataSubnetPrefix
          defaultOutboundAccess: false
          networkSecurityGroup: {
            id: dataNsg.id
          }
          // Lets the NSG above apply to private endpoint traffic.
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'AzureFirewallSubnet'
        properties: {
          addressPrefix: firewallSubnetPrefix
          natGateway: {
            id: natGateway.id
          }
        }
      }
      {
        name: 'AzureFirewallManagementSubnet'
        properties: {
          addressPrefix: firewallManagementSubnetPrefix
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zone in items(privateDnsZoneNames): {
  name: zone.value
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (zone, i) in items(privateDnsZoneNames): {
  parent: zones[i]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource appsNsgLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: appsNsg
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

resource dataNsgLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: dataNsg
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

resource natAddressLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: natAddress
  properties: {
    workspaceId: logAnalyticsWorkspaceId
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

resource vnetMetrics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vnet
  properties: {
    workspaceId: logAnalyticsWorkspaceId
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

output vnetId string = vnet.id
output appsSubnetId string = vnet.properties.subnets[0].id
output dataSubnetId string = vnet.properties.subnets[1].id
output firewallSubnetId string = vnet.properties.subnets[2].id
output firewallManagementSubnetId string = vnet.properties.subnets[3].id
output firewallPrivateIp string = firewallPrivateIp
output natAddress string = natAddress.properties.ipAddress
@description('Private DNS zone id per service: postgres, redis, blob, keyVault.')
output privateDnsZoneIds object = {
  postgres: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.postgres)
  redis: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.redis)
  blob: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.blob)
  keyVault: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.keyVault)
}
