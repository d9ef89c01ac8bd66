// dursor cloud on Azure: four Dapr-enabled Container Apps (events-gateway, run-api,
// agent-runner, auth) and the static web UI in an internal environment reached only by
// Front Door Premium over Private Link, with PostgreSQL Flexible Server (Entra sign-in,
// PgBouncer), Azure Managed Redis (Entra sign-in), Blob Storage and Key Vault on private
// endpoints, all egress through an allowlisting firewall, one identity per workload, and
// every diagnostic log in Log Analytics with the seed's alerts. Sizes per environment come
// from parameters/dev.bicepparam and parameters/prod.bicepparam; infra/README.md and
// scripts/deploy.sh say how to run it.

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
@description('Image tag of every service in the registry (scripts/deploy.sh uses the git commit).')
param imageTag string
@allowed([
  'foundation'
  'migrate'
  'apps'
])
@description('foundation: everything but the apps; migrate: + migration job; apps: + the apps and Front Door routes.')
param deployStage string = 'apps'

param gatewayScale ServiceScale
param runApiScale ServiceScale
param agentRunnerScale ServiceScale
param authScale ServiceScale
param webScale ServiceScale
@minValue(1)
param agentRunnerSlots int
@description('Deploy the dynamic-sessions pool for agents (infra/README.md "Agents on Container Apps"); the runner does not use it yet.')
param agentSessionPool bool = false
// Container Apps gives a container no CAP_SYS_ADMIN and no user namespaces, so the
// agent-runner's bubblewrap jail cannot be built there (infra/README.md "Agents on
// Container Apps"). true: agents run unjailed, each run's log carrying the warning;
// false: the runner refuses agent runs and only `llm` runs work, until the session pool
// (agentSessionPool) replaces the jail. No default: each environment's parameter file
// states the choice, so running untrusted agents unjailed is never an accident.
@description('Run agents unjailed on Container Apps (DURSOR_SANDBOX_ALLOW_UNJAILED); false refuses agent runs.')
param agentsRunUnjailed bool
@minValue(1)
@maxValue(600)
@description('Agent sessions the pool may run at once.')
param agentSessionLimit int = 20
@minValue(1)
@maxValue(200)
@description('SQLAlchemy pool per replica (and as much overflow): small where PgBouncer is absent.')
param databasePoolSize int
@minValue(4)
@maxValue(30)
@description('Unset: the platform\'s 4-minute idle timeout. 4-30: premium ingress (dedicated D4 profile) with that timeout.')
param premiumIngressIdleTimeoutMinutes int?

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
  'Basic'
  'Standard'
])
param firewallTier string
@description('Host names added to the egress allowlist (e.g. a GitHub Enterprise Server).')
param extraAllowedFqdns string[] = []
param zoneRedundant bool
@minValue(30)
@maxValue(730)
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
param firewallSubnetPrefix string = '10.0.3.0/26'
param firewallManagementSubnetPrefix string = '10.0.3.64/26'

@secure()
@description('Key Vault secrets that do not exist yet, name -> value (scripts/deploy.sh generates them).')
param seedSecrets object = {}

var namePrefix = 'dursor-${environmentName}'
var suffix = take(uniqueString(subscription().id, resourceGroup().id, environmentName), 6)
var tags = {
  application: 'dursor'
  environment: environmentName
}
var databaseName = 'dursor'
var artifactsContainer = 'dursor'
var authIssuer = authMode == 'entra' ? '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0' : 'http://${namePrefix}-auth'
var deployApps = deployStage == 'apps'

// What each service's identity may do (the identity table of infra/README.md). Secrets
// are the ones its sidecar may read (components/config/<app>.yaml allowedSecrets, less
// the database URLs: Azure signs in with Entra tokens); blob is its data role on the
// artifacts container.
var access = {
  'events-gateway': {
    secrets: [
      'github-webhook-secret'
    ]
    blob: 'none'
  }
  'run-api': {
    secrets: [
      'encryption-keys'
    ]
    blob: 'reader'
  }
  'agent-runner': {
    secrets: [
      'encryption-keys'
    ]
    blob: 'contributor'
  }
  auth: {
    secrets: [
      'admin-password'
      'jwt-signing-keys'
      'github-app-id'
      'github-app-private-key'
    ]
    blob: 'none'
  }
}
var daprApps = objectKeys(access)
var workloads = concat(daprApps, [
  'web'
  'migrate'
  'dapr-redis'
])

module identities './modules/identities.bicep' = {
  name: 'identities'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    workloads: workloads
  }
}

var identityOf = toObject(identities.outputs.list, entry => entry.workload)

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

module network './modules/networking.bicep' = {
  name: 'networking'
  params: {
    name: '${namePrefix}-vnet'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appsSubnetPrefix: appsSubnetPrefix
    dataSubnetPrefix: dataSubnetPrefix
    firewallSubnetPrefix: firewallSubnetPrefix
    firewallManagementSubnetPrefix: firewallManagementSubnetPrefix
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module registry './modules/registry.bicep' = {
  name: 'registry'
  params: {
    name: replace('cr${namePrefix}${suffix}', '-', '')
    location: location
    tags: tags
    pullerPrincipalIds: map(concat(daprApps, [
      'web'
      'migrate'
    ]), workload => identityOf[workload].principalId)
    sku: registrySku
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module egress './modules/egress.bicep' = {
  name: 'egress'
  params: {
    name: '${namePrefix}-fw'
    location: location
    tags: tags
    tier: firewallTier
    firewallSubnetId: network.outputs.firewallSubnetId
    firewallManagementSubnetId: network.outputs.firewallManagementSubnetId
    appsSubnetPrefix: appsSubnetPrefix
    registryLoginServer: registry.outputs.loginServer
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    extraAllowedFqdns: extraAllowedFqdns
    zones: zoneRedundant ? [
      '1'
      '2'
      '3'
    ] : []
  }
}

module keyVault './modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${namePrefix}-${suffix}'
    location: location
    tags: tags
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.keyVault
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    secretsOfficerPrincipalId: secretsOfficerPrincipalId
    secretReaders: flatten(map(daprApps, app => map(access[app].secrets, secret => {
      secret: secret
      principalId: identityOf[app].principalId
    })))
    seedSecrets: seedSecrets
  }
}

module storage './modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: replace('st${namePrefix}${suffix}', '-', '')
    location: location
    tags: tags
    blobWriterPrincipalIds: map(filter(daprApps, app => access[app].blob == 'contributor'), app => identityOf[app].principalId)
    blobReaderPrincipalIds: map(filter(daprApps, app => access[app].blob == 'reader'), app => identityOf[app].principalId)
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
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
    administratorName: identityOf.migrate.name
    administratorPrincipalId: identityOf.migrate.principalId
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.postgres
    databaseName: databaseName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
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
    dataPrincipalIds: [
      identityOf['dapr-redis'].principalId
    ]
    dataSubnetId: network.outputs.dataSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneIds.redis
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module frontDoorProfile './modules/frontdoor-profile.bicep' = {
  name: 'frontdoor-profile'
  params: {
    namePrefix: namePrefix
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module containerEnvironment './modules/container-environment.bicep' = {
  name: 'container-environment'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    appsSubnetId: network.outputs.appsSubnetId
    zoneRedundant: zoneRedundant
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    appInsightsName: monitoring.outputs.appInsightsName
    identities: identities.outputs.list
    daprApps: daprApps
    keyVaultName: keyVault.outputs.name
    redisAddress: cache.outputs.address
    premiumIngressIdleTimeoutMinutes: premiumIngressIdleTimeoutMinutes
  }
  // Egress must work before the environment pulls images and signs in.
  dependsOn: [
    egress
  ]
}

module containerApps './modules/container-apps.bicep' = {
  name: 'container-apps'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    environmentId: containerEnvironment.outputs.id
    appsSubnetPrefix: appsSubnetPrefix
    appInsightsName: monitoring.outputs.appInsightsName
    identities: identities.outputs.list
    daprApps: daprApps
    registryServer: registry.outputs.loginServer
    imageTag: imageTag
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageContainerName: storage.outputs.containerName
    postgresHost: database.outputs.fqdn
    postgresServicePort: database.outputs.servicePort
    databaseName: databaseName
    databasePoolSize: databasePoolSize
    authMode: authMode
    authIssuer: authIssuer
    authAudience: authAudience
    entraTenantId: entraTenantId
    gatewayScale: gatewayScale
    runApiScale: runApiScale
    agentRunnerScale: agentRunnerScale
    authScale: authScale
    webScale: webScale
    agentRunnerSlots: agentRunnerSlots
    agentsRunUnjailed: agentsRunUnjailed
    frontDoorId: frontDoorProfile.outputs.frontDoorId
    deployStage: deployStage
  }
}

module agentSessions './modules/agent-sessions.bicep' = if (agentSessionPool && deployApps) {
  name: 'agent-sessions'
  params: {
    name: '${namePrefix}-agent-sessions'
    location: location
    tags: tags
    environmentId: containerEnvironment.outputs.id
    registryServer: registry.outputs.loginServer
    image: '${registry.outputs.loginServer}/dursor/agent-runner:${imageTag}'
    pullIdentityId: identityOf['agent-runner'].id
    maxConcurrentSessions: agentSessionLimit
    readySessions: 1
  }
}

module frontDoor './modules/frontdoor.bicep' = if (deployApps) {
  name: 'frontdoor'
  params: {
    profileName: frontDoorProfile.outputs.profileName
    endpointName: frontDoorProfile.outputs.endpointName
    environmentId: containerEnvironment.outputs.id
    environmentLocation: location
    gatewayFqdn: containerApps.outputs.gatewayFqdn
    webFqdn: containerApps.outputs.webFqdn
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
output containerAppsEnvironmentName string = containerEnvironment.outputs.name
output containerAppsEnvironmentId string = containerEnvironment.outputs.id
output migrateJobName string = containerApps.outputs.migrateJobName
output appNames object = containerApps.outputs.appNames
output frontDoorHostName string = frontDoorProfile.outputs.endpointHostName
output egressAddress string = network.outputs.natAddress
