// The Container Apps environment (in the app subnet, logs to Log Analytics, Dapr
// telemetry to App Insights), its Dapr components, the migration job and one Container
// App per service. Only events-gateway has external ingress; run-api and auth have
// internal ingress (Dapr service invocation from the gateway); agent-runner has none.
//
// deployStage lets scripts/deploy.sh bring things up in order on the first rollout:
// foundation (environment + components) -> migrate (+ job) -> apps (+ the four apps).

import { ServiceScale } from './types.bicep'

param namePrefix string
param location string
param tags object
param appsSubnetId string
param zoneRedundant bool
param logAnalyticsName string
param appInsightsName string
param identityId string
param identityClientId string
param keyVaultName string
param keyVaultUri string
param redisAddress string
param redisClustered bool
param registryServer string
param imageTag string
param storageBlobEndpoint string
param storageContainerName string
@allowed([
  'local'
  'entra'
])
param authMode string
param authIssuer string
param authAudience string
param entraTenantId string
param gatewayScale ServiceScale
param runApiScale ServiceScale
param agentRunnerScale ServiceScale
param authScale ServiceScale
@description('Runs one agent-runner replica executes at once (DURSOR_MAX_CONCURRENCY).')
param agentRunnerSlots int
@description('pendingEntriesCount works on Redis 6 (Azure Cache for Redis); lagCount needs Redis 7+.')
@allowed([
  'pendingEntriesCount'
  'lagCount'
])
param agentRunnerScaleMetric string
param agentRunnerScaleThreshold int
@description('0 keeps the platform idle timeout (4 min, far above the gateway\'s 15 s SSE ping); 4-30 adds premium ingress on a dedicated D4 profile with that idle timeout.')
@minValue(0)
@maxValue(30)
param sseIdleTimeoutMinutes int = 0
@allowed([
  'foundation'
  'migrate'
  'apps'
])
param deployStage string

var premiumIngress = sseIdleTimeoutMinutes > 0
var deployJob = deployStage != 'foundation'
var deployApps = deployStage == 'apps'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2026-07-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    daprAIConnectionString: appInsights.properties.ConnectionString
    vnetConfiguration: {
      infrastructureSubnetId: appsSubnetId
      internal: false
    }
    zoneRedundant: zoneRedundant
    workloadProfiles: concat([
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ], premiumIngress ? [
      {
        name: 'ingress'
        workloadProfileType: 'D4'
        minimumCount: 2
        maximumCount: 3
      }
    ] : [])
    ingressConfiguration: premiumIngress ? {
      workloadProfileName: 'ingress'
      requestIdleTimeout: sseIdleTimeoutMinutes
      terminationGracePeriodSeconds: 480
    } : null
  }
}

module daprComponents './dapr-components.bicep' = {
  name: '${namePrefix}-dapr-components'
  params: {
    environmentName: managedEnvironment.name
    keyVaultName: keyVaultName
    identityClientId: identityClientId
    redisAddress: redisAddress
    redisClustered: redisClustered
  }
}

func imageOf(registry string, service string, tag string) string => '${registry}/dursor/${service}:${tag}'

func keyVaultSecret(vaultUri string, secretName string, identity string) object => {
  name: secretName
  keyVaultUrl: '${vaultUri}secrets/${secretName}'
  identity: identity
}

func httpScaleRule(concurrentRequests int) object => {
  name: 'http-concurrency'
  http: {
    metadata: {
      concurrentRequests: string(concurrentRequests)
    }
  }
}

var databaseUrlSecret = keyVaultSecret(keyVaultUri, 'postgresql-connection-string', identityId)

var redisPasswordSecret = keyVaultSecret(keyVaultUri, 'redis-password', identityId)

var commonEnv = [
  {
    name: 'DURSOR_LOG_FORMAT'
    value: 'json'
  }
  // Container Apps cannot load declarative subscriptions: services answer /dapr/subscribe.
  {
    name: 'DURSOR_PROGRAMMATIC_SUBSCRIPTIONS'
    value: 'true'
  }
  {
    name: 'DURSOR_DATABASE_URL'
    secretRef: 'postgresql-connection-string'
  }
  {
    // Read by dursor_contracts.telemetry: traces and metrics go to Azure Monitor.
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    secretRef: 'appinsights-connection-string'
  }
  {
    // DefaultAzureCredential picks the user-assigned identity (Blob Storage).
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'DURSOR_AUTH_MODE'
    value: authMode
  }
  {
    name: 'DURSOR_AUTH_ISSUER'
    value: authIssuer
  }
  {
    name: 'DURSOR_AUTH_AUDIENCE'
    value: authAudience
  }
  {
    name: 'DURSOR_AUTH_ENTRA_TENANT_ID'
    value: entraTenantId
  }
  {
    name: 'DURSOR_ARTIFACTS_BACKEND'
    value: 'azure'
  }
  {
    name: 'DURSOR_ARTIFACTS_ACCOUNT_URL'
    value: storageBlobEndpoint
  }
  {
    name: 'DURSOR_ARTIFACTS_CONTAINER'
    value: storageContainerName
  }
]

func appIdEnv(appId string) object => {
  name: 'DURSOR_APP_ID'
  value: appId
}

// KEDA reads the backlog of the run-requested stream for the consumer group Dapr
// creates for agent-runner (pubsub's consumerID defaults to the app id).
var runRequestedBacklogRule = {
  name: 'run-requested-backlog'
  custom: {
    type: redisClustered ? 'redis-cluster-streams' : 'redis-streams'
    metadata: union(redisClustered ? {
      addresses: redisAddress
    } : {
      address: redisAddress
    }, {
      stream: 'run-requested'
      consumerGroup: 'agent-runner'
      enableTLS: 'true'
      '${agentRunnerScaleMetric}': string(agentRunnerScaleThreshold)
    })
    auth: [
      {
        secretRef: 'redis-password'
        triggerParameter: 'password'
      }
    ]
  }
}

module migrateJob './migrate-job.bicep' = if (deployJob) {
  name: '${namePrefix}-migrate-job'
  params: {
    name: '${namePrefix}-migrate-db'
    location: location
    tags: tags
    environmentId: managedEnvironment.id
    identityId: identityId
    registryServer: registryServer
    image: imageOf(registryServer, 'run-api', imageTag)
    keyVaultUri: keyVaultUri
  }
}

module eventsGateway './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-events-gateway'
  params: {
    name: '${namePrefix}-events-gateway'
    location: location
    tags: tags
    environmentId: managedEnvironment.id
    identityId: identityId
    registryServer: registryServer
    image: imageOf(registryServer, 'events-gateway', imageTag)
    appId: 'events-gateway'
    appPort: 8080
    scale: gatewayScale
    // The one public entry point, behind Front Door. SSE streams stay open through the
    // ingress because the gateway sends `: ping` every 15 s (idle timeout: 4 min, or
    // sseIdleTimeoutMinutes) and clients resume with Last-Event-ID after any cut.
    ingress: 'external'
    keyVaultSecrets: [
      databaseUrlSecret
      redisPasswordSecret
    ]
    appInsightsName: appInsightsName
    env: concat(commonEnv, [
      appIdEnv('events-gateway')
      {
        // The gateway prunes the consumer groups of gone replicas (pubsub-broadcast).
        name: 'DURSOR_REDIS_HOST'
        value: redisAddress
      }
      {
        name: 'DURSOR_REDIS_PASSWORD'
        secretRef: 'redis-password'
      }
    ])
    scaleRules: [
      httpScaleRule(gatewayScale.?concurrentRequests ?? 200)
    ]
  }
  dependsOn: [
    daprComponents
  ]
}

module runApi './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-run-api'
  params: {
    name: '${namePrefix}-run-api'
    location: location
    tags: tags
    environmentId: managedEnvironment.id
    identityId: identityId
    registryServer: registryServer
    image: imageOf(registryServer, 'run-api', imageTag)
    appId: 'run-api'
    appPort: 8081
    scale: runApiScale
    ingress: 'internal'
    keyVaultSecrets: [
      databaseUrlSecret
    ]
    appInsightsName: appInsightsName
    env: concat(commonEnv, [
      appIdEnv('run-api')
    ])
    scaleRules: [
      httpScaleRule(runApiScale.?concurrentRequests ?? 100)
    ]
  }
  dependsOn: [
    daprComponents
  ]
}

module agentRunner './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-agent-runner'
  params: {
    name: '${namePrefix}-agent-runner'
    location: location
    tags: tags
    environmentId: managedEnvironment.id
    identityId: identityId
    registryServer: registryServer
    image: imageOf(registryServer, 'agent-runner', imageTag)
    appId: 'agent-runner'
    appPort: 8082
    scale: agentRunnerScale
    ingress: 'none'
    keyVaultSecrets: [
      databaseUrlSecret
      redisPasswordSecret
    ]
    appInsightsName: appInsightsName
    env: concat(commonEnv, [
      appIdEnv('agent-runner')
      {
        name: 'DURSOR_MAX_CONCURRENCY'
        value: string(agentRunnerSlots)
      }
      {
        name: 'DURSOR_WORKSPACES_DIR'
        value: '/workspaces'
      }
    ])
    scaleRules: [
      runRequestedBacklogRule
    ]
    volumes: [
      {
        name: 'workspaces'
        storageType: 'EmptyDir'
      }
    ]
    volumeMounts: [
      {
        volumeName: 'workspaces'
        mountPath: '/workspaces'
      }
    ]
    // Time to drain: stop claiming, let agents finish their batch, release leases. A
    // replica killed anyway loses its lease and the reaper requeues the run.
    terminationGracePeriodSeconds: 120
  }
  dependsOn: [
    daprComponents
  ]
}

module auth './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-auth'
  params: {
    name: '${namePrefix}-auth'
    location: location
    tags: tags
    environmentId: managedEnvironment.id
    identityId: identityId
    registryServer: registryServer
    image: imageOf(registryServer, 'auth', imageTag)
    appId: 'auth'
    appPort: 8083
    scale: authScale
    ingress: 'internal'
    keyVaultSecrets: [
      databaseUrlSecret
    ]
    appInsightsName: appInsightsName
    env: concat(commonEnv, [
      appIdEnv('auth')
    ])
    scaleRules: [
      httpScaleRule(authScale.?concurrentRequests ?? 100)
    ]
  }
  dependsOn: [
    daprComponents
  ]
}

output environmentId string = managedEnvironment.id
output environmentName string = managedEnvironment.name
output migrateJobName string = '${namePrefix}-migrate-db'
output appNames object = {
  eventsGateway: '${namePrefix}-events-gateway'
  runApi: '${namePrefix}-run-api'
  agentRunner: '${namePrefix}-agent-runner'
  auth: '${namePrefix}-auth'
}
@description('Public host name of events-gateway (empty before the apps stage).')
output gatewayFqdn string = deployApps ? eventsGateway.outputs.fqdn : ''
