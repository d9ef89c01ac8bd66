// The Container Apps environment: internal (no public address; Front Door reaches it over
// Private Link), public network access off, workload profiles (user-defined routes send
// its egress through the firewall), logs through a diagnostic setting, Dapr telemetry to
// Application Insights, and its Dapr components.

param namePrefix string
param location string
param tags object
param appsSubnetId string
param zoneRedundant bool
param logAnalyticsWorkspaceId string
param appInsightsName string
@description('identities.bicep `list`: one {workload, name, id, clientId, principalId} per workload.')
param identities array
@description('App ids of the Dapr-enabled services.')
param daprApps string[]
param keyVaultName string
param redisAddress string
@description('Unset keeps the platform idle timeout (4 min, far above the gateway\'s 15 s SSE ping); 4-30 adds premium ingress on a dedicated D4 profile with that idle timeout.')
@minValue(4)
@maxValue(30)
param premiumIngressIdleTimeoutMinutes int?

var premiumIngress = premiumIngressIdleTimeoutMinutes != null
var identityOf = toObject(identities, entry => entry.workload)

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2026-07-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    // Logs go through the diagnostic setting below (no workspace key in the environment).
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    daprAIConnectionString: appInsights.properties.ConnectionString
    vnetConfiguration: {
      infrastructureSubnetId: appsSubnetId
      internal: true
    }
    publicNetworkAccess: 'Disabled'
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
      requestIdleTimeout: premiumIngressIdleTimeoutMinutes
      terminationGracePeriodSeconds: 480
    } : null
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: managedEnvironment
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

module daprComponents './dapr-components.bicep' = {
  name: '${namePrefix}-dapr-components'
  params: {
    environmentName: managedEnvironment.name
    vaultName: keyVaultName
    redisAddress: redisAddress
    redisClientId: identityOf['dapr-redis'].clientId
    secretStoreClientIds: toObject(daprApps, app => app, app => identityOf[app].clientId)
  }
}

output id string = managedEnvironment.id
output name string = managedEnvironment.name
