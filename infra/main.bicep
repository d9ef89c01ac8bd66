// dursor cloud on Azure: four Dapr-enabled Container Apps (events-gateway, run-api,
// agent-runner, auth) behind Front Door + WAF, with PostgreSQL Flexible Server, Azure
// Cache for Redis, Blob Storage and Key Vault on private endpoints in one VNet, and
// Application Insights + Log Analytics with the seed's alerts. Sizes per environment
// come from parameters/dev.bicepparam and parameters/prod.bicepparam; the steps to run
// it are scripts/deploy.sh and infra/README.md.

targetScope = 'resourceGroup'

import { ServiceScale, PostgresSettings, RedisSettings } from './modules/types.bicep'

@allowed([
  'dev'
  'prod'
])
param environmentName string
param location string = resourceGroup().location
@description('Region of the PostgreSQL DR replica and the Redis geo-replica (the seed: Japan West).')
param secondaryLocation string
@description('Image tag of all four services in the registry (scripts/deploy.sh uses the git commit).')
param imageTag string
@allowed([
  'foundation'
  'migrate'
  'apps'
])
@description('foundation: everything but the apps; migrate: + migration job; apps: + the four apps and Front Door.')
param deployStage string = 'apps'

param gatewayScale ServiceScale
param runApiScale ServiceScale
param agentRunnerScale ServiceScale
param authScale ServiceScale
@minValue(1)
param agentRunnerSlots int
@allowed([
  'pendingEntriesCount'
  'lagCount'
])
param agentRunnerScaleMetric string = 'pendingEntriesCount'
@minValue(1)
param agentRunnerScaleThreshold int = 5
@minValue(0)
@maxValue(30)
param sseIdleTimeoutMinutes int = 0

param postgres PostgresSettings
param redis RedisSettings
@allowed([
  'Standard_LRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageSku string
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param registrySku string
@allowed([
  'Standard_AzureFrontDoor'
  'Premium_AzureFrontDoor'
])
param frontDoorSku string
param zoneRedundant bool
@minValue(30)
param logRetentionDays int
param alertEmail string = ''

@allowed([
  'local'
  'entra'
])
param authMode string = 'entra'
@description('Audience (App ID URI) of the Entra app registration the API accepts.')
param authAudience string = 'api://dursor'
param entraTenantId string = tenant().tenantId
@description('Object id of the group or user allowed to read and write Key Vault secrets; empty for none.')
param secretsOfficerPrincipalId string = ''

param vnetAddressPrefix string = '10.0.0.0/16'
param appsSubnetPrefix string = '10.0.1.0/24'
param dataSubnetPrefix string = '10.0.2.0/24'

@secure()
@description('PostgreSQL admin password: only on the first deployment or to rotate it (scripts/deploy.sh).')
param postgresAdminPassword string = ''
@secure()
@description('Key Vault secrets that do not exist yet, name -> value (scripts/deploy.sh generates them).')
param seedSecrets object = {}

var namePrefix = 'dursor-${environmentName}'
var suffix = take(uniqueString(subscription().id, resourceGroup().id, environmentName), 6)
var tags = {
  application: 'dursor'
  environment: environmentName
}
var artifactsContainer = 'dursor'
var authIssuer = authMode == 'entra' ? '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0' : 'http://${namePrefix}-auth'
var deployApps = deployStage == 'apps'

module identity './modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${namePrefix}-id'
    location: location
    tags: tags
  }
}

module network './modules/networking.bicep' = {
  name: 'networking'
  params: {
    name: '${namePrefix}-vnet'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appsSubnetPrefix: appsSubnetPrefix
    dataSubnetPrefix: dataSubnetPrefix
  }
}

module monitoring './modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: '${namePrefix}-log'
    appInsightsName: '${namePrefix}-appi'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module keyVault './modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${namePrefix}-${suffix}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.keyVault
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    secretsOfficerPrincipalId: secretsOfficerPrincipalId
    seedSecrets: seedSecrets
  }
}

module registry './modules/registry.bicep' = {
  name: 'registry'
  params: {
    name: replace('cr${namePrefix}${suffix}', '-', '')
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    sku: registrySku
  }
}

module storage './modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: replace('st${namePrefix}${suffix}', '-', '')
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.blob
    skuName: storageSku
    containerName: artifactsContainer
  }
}

module database './modules/postgresql.bicep' = {
  name: 'postgresql'
  params: {
    name: '${namePrefix}-psql-${suffix}'
    location: location
    tags: tags
    settings: postgres
    identityName: identity.outputs.name
    identityPrincipalId: identity.outputs.principalId
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.postgres
    keyVaultName: keyVault.outputs.name
    databaseName: 'dursor'
    administratorPassword: postgresAdminPassword
  }
}

module cache './modules/redis.bicep' = {
  name: 'redis'
  params: {
    name: '${namePrefix}-redis-${suffix}'
    location: location
    secondaryLocation: secondaryLocation
    tags: tags
    settings: redis
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.redis
    keyVaultName: keyVault.outputs.name
  }
}

module containerApps './modules/container-apps.bicep' = {
  name: 'container-apps'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    appsSubnetId: network.outputs.appsSubnetId
    zoneRedundant: zoneRedundant
    logAnalyticsName: monitoring.outputs.workspaceName
    appInsightsName: monitoring.outputs.appInsightsName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    keyVaultName: keyVault.outputs.name
    keyVaultUri: keyVault.outputs.uri
    redisAddress: cache.outputs.address
    redisClustered: cache.outputs.clustered
    registryServer: registry.outputs.loginServer
    imageTag: imageTag
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageContainerName: storage.outputs.containerName
    authMode: authMode
    authIssuer: authIssuer
    authAudience: authAudience
    entraTenantId: entraTenantId
    gatewayScale: gatewayScale
    runApiScale: runApiScale
    agentRunnerScale: agentRunnerScale
    authScale: authScale
    agentRunnerSlots: agentRunnerSlots
    agentRunnerScaleMetric: agentRunnerScaleMetric
    agentRunnerScaleThreshold: agentRunnerScaleThreshold
    sseIdleTimeoutMinutes: sseIdleTimeoutMinutes
    deployStage: deployStage
  }
  // Key Vault references resolve at revision creation: the secrets must exist first.
  dependsOn: [
    database
  ]
}

module frontDoor './modules/frontdoor.bicep' = if (deployApps) {
  name: 'frontdoor'
  params: {
    namePrefix: namePrefix
    tags: tags
    gatewayFqdn: containerApps.outputs.gatewayFqdn
    skuName: frontDoorSku
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module alerts './modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    postgresServerId: database.outputs.id
    postgresMaxConnections: postgres.maxConnections
    redisCacheId: cache.outputs.id
    alertEmail: alertEmail
  }
}

output registryName string = registry.outputs.name
output registryLoginServer string = registry.outputs.loginServer
output keyVaultName string = keyVault.outputs.name
output containerAppsEnvironmentName string = containerApps.outputs.environmentName
output migrateJobName string = containerApps.outputs.migrateJobName
output appNames object = containerApps.outputs.appNames
output gatewayFqdn string = containerApps.outputs.gatewayFqdn
output frontDoorHostName string = deployApps ? frontDoor.outputs.endpointHostName : ''
