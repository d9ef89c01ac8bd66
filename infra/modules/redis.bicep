// Azure Cache for Redis: the Dapr pub/sub streams and the state store. TLS only
// (port 6380, TLS 1.2), private endpoint only. Dev: Basic C0 (250 MB). Prod: Premium
// P1 clustered in 3 shards with a passive geo-replica in the secondary region.
// The access key goes to Key Vault as `redis-password` (read by the Dapr components
// and the KEDA scaler); rotating it means regenerating the key and redeploying.

import { RedisSettings } from './types.bicep'

param name string
param location string
param secondaryLocation string
param tags object
param settings RedisSettings
param dataSubnetId string
param privateDnsZoneId string
param keyVaultName string

var clustered = settings.skuName == 'Premium' && settings.shardCount > 0
var geoReplicated = settings.skuName == 'Premium' && settings.geoReplication
var properties = {
  sku: {
    name: settings.skuName
    family: settings.family
    capacity: settings.capacity
  }
  enableNonSslPort: false
  minimumTlsVersion: '1.2'
  publicNetworkAccess: 'Disabled'
  redisVersion: '6'
  shardCount: clustered ? settings.shardCount : null
  redisConfiguration: {
    // Streams and Dapr state have no TTL, so only expiring keys (caches) are evicted.
    'maxmemory-policy': 'volatile-lru'
  }
}

resource cache 'Microsoft.Cache/redis@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: properties
}

resource geoReplica 'Microsoft.Cache/redis@2024-11-01' = if (geoReplicated) {
  name: '${name}-geo'
  location: secondaryLocation
  tags: tags
  properties: properties
}

resource geoLink 'Microsoft.Cache/redis/linkedServers@2024-11-01' = if (geoReplicated) {
  parent: cache
  name: '${name}-geo'
  properties: {
    linkedRedisCacheId: geoReplica.id
    linkedRedisCacheLocation: secondaryLocation
    serverRole: 'Secondary'
  }
}

module endpoint './private-endpoint.bicep' = {
  name: '${name}-pe'
  params: {
    name: '${name}-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: cache.id
    groupId: 'redisCache'
    privateDnsZoneId: privateDnsZoneId
  }
}

module geoEndpoint './private-endpoint.bicep' = if (geoReplicated) {
  name: '${name}-geo-pe'
  params: {
    name: '${name}-geo-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: geoReplica.id
    groupId: 'redisCache'
    privateDnsZoneId: privateDnsZoneId
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource password 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-password'
  properties: {
    contentType: 'Azure Cache for Redis access key'
    value: cache.listKeys().primaryKey
  }
}

output id string = cache.id
output name string = cache.name
@description('host:port for Dapr and KEDA (TLS port).')
output address string = '${cache.properties.hostName}:${cache.properties.sslPort}'
output clustered bool = clustered
