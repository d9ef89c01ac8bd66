// Azure Managed Redis (Microsoft.Cache/redisEnterprise, Redis 7.4+): the Dapr pub/sub
// streams and the state store. TLS only (port 10000), private endpoint only, access keys
// off: clients sign in with Microsoft Entra ID (Dapr's `useEntraID`) as identities granted
// the `default` access policy here. Dev: Balanced_B0, one shard (NoCluster). Prod:
// Balanced_B5 (6 GB) sharded behind one endpoint (EnterpriseCluster, so Dapr's and KEDA's
// single-node clients work), zone-redundant, with an active geo-replica in the secondary
// region (geo-replication requires NoEviction; streams and Dapr state must not be evicted
// anyway, caches carry TTLs).

import { RedisSettings } from './types.bicep'

param name string
param location string
param secondaryLocation string
param tags object
param settings RedisSettings
@description('Principal ids granted data access (the default access policy).')
param dataPrincipalIds string[]
param dataSubnetId string
param privateDnsZoneId string
param logAnalyticsWorkspaceId string

var geoReplicated = settings.geoReplication && settings.clusteringPolicy == 'EnterpriseCluster'
var databaseProperties = {
  clientProtocol: 'Encrypted'
  port: 10000
  clusteringPolicy: settings.clusteringPolicy
  evictionPolicy: 'NoEviction'
  accessKeysAuthentication: 'Disabled'
}
var clusterProperties = {
  minimumTlsVersion: '1.2'
  highAvailability: settings.highAvailability ? 'Enabled' : 'Disabled'
  publicNetworkAccess: 'Disabled'
}

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: settings.skuName
  }
  properties: clusterProperties
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: union(databaseProperties, geoReplicated ? {
    geoReplication: {
      groupNickname: name
      linkedDatabases: [
        {
          id: '${cluster.id}/databases/default'
        }
      ]
    }
  } : {})
}

resource secondaryCluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = if (geoReplicated) {
  name: '${name}-geo'
  location: secondaryLocation
  tags: tags
  sku: {
    name: settings.skuName
  }
  properties: clusterProperties
}

resource secondaryDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = if (geoReplicated) {
  parent: secondaryCluster
  name: 'default'
  properties: union(databaseProperties, {
    geoReplication: {
      groupNickname: name
      linkedDatabases: [
        {
          id: database.id
        }
        {
          id: '${secondaryCluster.id}/databases/default'
        }
      ]
    }
  })
}

// Assignment names are alphanumeric only.
resource dataAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = [for (principalId, i) in dataPrincipalIds: {
  parent: database
  name: 'data${i}'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: principalId
    }
  }
}]

resource secondaryDataAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = [for (principalId, i) in (geoReplicated ? dataPrincipalIds : []): {
  parent: secondaryDatabase
  name: 'data${i}'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: principalId
    }
  }
}]

module endpoint './private-endpoint.bicep' = {
  name: '${name}-pe'
  params: {
    name: '${name}-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: cluster.id
    groupId: 'redisEnterprise'
    privateDnsZoneId: privateDnsZoneId
  }
}

module secondaryEndpoint './private-endpoint.bicep' = if (geoReplicated) {
  name: '${name}-geo-pe'
  params: {
    name: '${name}-geo-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: secondaryCluster.id
    groupId: 'redisEnterprise'
    privateDnsZoneId: privateDnsZoneId
  }
}

resource clusterMetrics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: cluster
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

resource databaseLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: database
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

resource secondaryClusterMetrics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (geoReplicated) {
  name: 'to-log-analytics'
  scope: secondaryCluster
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

resource secondaryDatabaseLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (geoReplicated) {
  name: 'to-log-analytics'
  scope: secondaryDatabase
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

output id string = cluster.id
output name string = cluster.name
@description('host:port of the TLS endpoint for Dapr.')
output address string = '${cluster.properties.hostName}:10000'
