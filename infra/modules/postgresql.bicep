// Azure Database for PostgreSQL Flexible Server with the seed's sizes: Burstable B1ms,
// 32 GB, 7-day backups, no HA in dev; General Purpose D4s_v3, 256 GB, 35-day backups
// (point-in-time restore within that window), zone-redundant HA and two read replicas
// in prod. Entra ID authentication is on and the managed identity is an Entra admin;
// password authentication stays on because the services read a classic connection
// string (postgresql-connection-string) until they fetch Entra tokens themselves.
// Reachable only through private endpoints.

import { PostgresSettings } from './types.bicep'

param name string
param location string
param tags object
param settings PostgresSettings
param identityName string
param identityPrincipalId string
param dataSubnetId string
param privateDnsZoneId string
param keyVaultName string
param databaseName string

@secure()
@description('Set on the first deployment (or to rotate): creates the server with it and writes postgresql-connection-string to Key Vault. Empty keeps both as they are.')
param administratorPassword string = ''

var administratorLogin = 'dursoradmin'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: settings.skuName
    tier: settings.tier
  }
  properties: {
    version: settings.version
    administratorLogin: administratorLogin
    administratorLoginPassword: empty(administratorPassword) ? null : administratorPassword
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Enabled'
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

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: identityPrincipalId
  properties: {
    principalType: 'ServicePrincipal'
    principalName: identityName
    tenantId: tenant().tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  // The server accepts one change at a time.
  dependsOn: [
    entraAdmin
  ]
}

@batchSize(1)
resource replicas 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = [for (replicaLocation, i) in settings.readReplicaLocations: {
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
    database
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource connectionString 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(administratorPassword)) {
  parent: vault
  name: 'postgresql-connection-string'
  properties: {
    contentType: 'SQLAlchemy URL'
    value: 'postgresql+asyncpg://${administratorLogin}:${uriComponent(administratorPassword)}@${server.properties.fullyQualifiedDomainName}:5432/${databaseName}?ssl=require'
  }
}

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output replicaIds array = [for (replicaLocation, i) in settings.readReplicaLocations: replicas[i].id]
