// VNet of the seed (10.0.0.0/16): an app subnet for the Container Apps environment and
// a data subnet holding the private endpoints of PostgreSQL, Redis, Blob and Key Vault.
// Every PaaS service has public network access disabled and resolves through the
// private DNS zones linked here.

param name string
param location string
param tags object
param addressPrefix string
param appsSubnetPrefix string
param dataSubnetPrefix string

var privateDnsZoneNames = {
  postgres: 'privatelink.postgres.database.azure.com'
  redis: 'privatelink.redis.cache.windows.net'
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  keyVault: 'privatelink.vaultcore.azure.net'
}

resource appsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-apps-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        // Only the gateway has external ingress; Front Door reaches it over HTTPS.
        name: 'allow-https-inbound'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: appsSubnetPrefix
          destinationPortRanges: [
            '80'
            '443'
          ]
        }
      }
      {
        // Health probes of the environment's load balancer (workload profiles environment).
        name: 'allow-load-balancer-probes'
        properties: {
          priority: 110
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'AzureLoadBalancer'
          sourcePortRange: '*'
          destinationAddressPrefix: appsSubnetPrefix
          destinationPortRange: '30000-32767'
        }
      }
    ]
  }
}

resource dataNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-data-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        // PostgreSQL 5432, Redis TLS 6380 (+ 15000-15999 for the clustered cache), HTTPS for Blob and Key Vault.
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
            '6380'
            '15000-15999'
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

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
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
          networkSecurityGroup: {
            id: appsNsg.id
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
          networkSecurityGroup: {
            id: dataNsg.id
          }
          // Lets the NSG above apply to private endpoint traffic.
          privateEndpointNetworkPolicies: 'Enabled'
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

output vnetId string = vnet.id
output appsSubnetId string = vnet.properties.subnets[0].id
output dataSubnetId string = vnet.properties.subnets[1].id
@description('Private DNS zone id per service: postgres, redis, blob, keyVault.')
output privateDnsZoneIds object = {
  postgres: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.postgres)
  redis: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.redis)
  blob: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.blob)
  keyVault: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.keyVault)
}
