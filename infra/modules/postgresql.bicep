// Azure Database for PostgreSQL Flexible Server with the seed's sizes: Burstable B1ms,
// 32 GB, 7-day backups, no HA in dev; General Purpose D4s_v3, 256 GB, 35-day backups
// (point-in-time restore within that window), zone-redundant HA and two read replicas in
// prod. Microsoft Entra authentication only (no passwords exist): the migration job's
// identity is the Entra administrator and owns the schema; each service signs in with an
// Entra token as its own login, a member of its service role (migration 0003, and
// `python -m dursor_kit.entra_logins` run by the job). The built-in PgBouncer
// (port 6432, transaction pooling, protocol-level prepared statements tracked) is on
// where the tier has it; Burstable servers have none, so dev connects on 5432.
// Reachable only through private endpoints.

import { PostgresSettings } from './types.bicep'

param name string
param location string
param tags object
param settings PostgresSettings
@description('Name and principal id of the identity that becomes the Entra administrator (the migration job).')
param administratorName string
param administratorPrincipalId string
param dataSubnetId string
param privateDnsZoneId string
param databaseName string
param logAnalyticsWorkspaceId string

var pgbouncer = settings.tier != 'Burstable'
// Server parameters, applied one at a time (the server accepts one change at a time).
var parameters = pgbouncer ? [
  {
    name: 'pgbouncer.enabled'
    value: 'true'
  }
  {
    name: 'pgbouncer.pool_mode'
    value: 'transaction'
  }
  {
    // asyncpg prepares every statement; PgBouncer tracks them per server connection.
    name: 'pgbouncer.max_prepared_statements'
    value: '200'
  }
  {
    name: 'pgbouncer.default_pool_size'
    value: '50'
  }
] : []

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2026-10-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: settings.skuName
    tier: settings.tier
  }
  properties: {
    version: settings.version
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: settings.storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: settings.backupRetentionDays
      geoRedundantBackup: settings.geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: settings.zoneRedundantHa ? 'ZoneRedundant' : 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Disabled'
    }
  }
}

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2026-10-01' = {
  parent: server
  name: administratorPrincipalId
  properties: {
    principalType: 'ServicePrincipal'
    principalName: administratorName
    tenantId: tenant().tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2026-10-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    entraAdmin
  ]
}

@batchSize(1)
resource serverParameters 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2026-10-01' = [for parameter in parameters: {
  parent: server
  name: parameter.name
  properties: {
    value: parameter.value
    source: 'user-override'
  }
  dependsOn: [
    database
  ]
}]

@batchSize(1)
resource replicas 'Microsoft.DBforPostgreSQL/flexibleServers@2026-10-01' = [for (replicaLocation, i) in settings.readReplicaLocations: {
  name: '${name}-replica-${i + 1}'
  location: replicaLocation
  tags: tags
  sku: {
    name: settings.skuName
    tier: settings.tier
  }
  properties: {
    createMode: 'Replica'
    sourceServerResourceId: server.id
    storage: {
      storageSizeGB: settings.storageSizeGB
      autoGrow: 'Enabled'
    }
    network: {
      publicNetworkAccess: 'Disabled'
    }
  }
  dependsOn: [
    serverParameters
  ]
}]

module endpoint './private-endpoint.bicep' = {
  name: '${name}-pe'
  params: {
    name: '${name}-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: server.id
    groupId: 'postgresqlServer'
    privateDnsZoneId: privateDnsZoneId
  }
}

module replicaEndpoints './private-endpoint.bicep' = [for (replicaLocation, i) in settings.readReplicaLocations: {
  name: '${name}-replica-${i + 1}-pe'
  params: {
    name: '${name}-replica-${i + 1}-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: replicas[i].id
    groupId: 'postgresqlServer'
    privateDnsZoneId: privateDnsZoneId
  }
}]

resource serverLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: server
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

resource replicaLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [for (replicaLocation, i) in settings.readReplicaLocations: {
  name: 'to-log-analytics'
  scope: replicas[i]
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
}]

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
@description('Port the services connect to: PgBouncer where the tier has it, else the server.')
output servicePort int = pgbouncer ? 6432 : 5432
output replicaIds array = [for (replicaLocation, i) in settings.readReplicaLocations: replicas[i].id]
