// One service as a Container App: its own user-assigned identity (image pulls, Key Vault,
// PostgreSQL, Blob), optionally a managed Dapr sidecar, health probes, and ingress that is
// `external` (reachable from the VNet, hence from Front Door's Private Link connection;
// the environment itself is internal and has no public address), `internal` (other apps
// of the environment only) or none.

import { ServiceScale } from './types.bicep'

param name string
param location string
param tags object
param environmentId string
@description('Resource id of the app\'s own user-assigned identity.')
param identityId string
@description('Further identities the app\'s sidecar signs in with (the Dapr Redis components\' identity).')
param sidecarIdentityIds string[] = []
param registryServer string
param image string
@description('Dapr app id (the same as in dapr.yaml and the component scopes), or the app\'s name without Dapr.')
param appId string
param daprEnabled bool = true
@description('Port the container listens on; the same as in dapr.yaml.')
param appPort int
param scale ServiceScale
@allowed([
  'external'
  'internal'
  'none'
])
param ingress string
param env array
@description('Its connection string becomes the secret appinsights-connection-string; empty for none.')
param appInsightsName string = ''
param scaleRules array
param volumes array = []
param volumeMounts array = []
param livenessPath string = '/healthz'
param readinessPath string = '/readyz'
@minValue(0)
@maxValue(600)
param terminationGracePeriodSeconds int = 30

var ingressSettings = {
  external: ingress == 'external'
  targetPort: appPort
  // HTTP/1.1 to the container: SSE responses are streamed chunk by chunk.
  transport: 'http'
  allowInsecure: false
  traffic: [
    {
      latestRevision: true
      weight: 100
    }
  ]
}

var daprSettings = {
  enabled: true
  appId: appId
  appPort: appPort
  appProtocol: 'http'
  enableApiLogging: false
  logLevel: 'warn'
  appHealth: {
    enabled: true
    path: livenessPath
    probeIntervalSeconds: 5
    probeTimeoutMilliseconds: 2000
    threshold: 3
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = if (!empty(appInsightsName)) {
  name: appInsightsName
}

resource app 'Microsoft.App/containerApps@2026-07-01' = {
  name: name
  location: location
  tags: union(tags, {
    'dapr-app-id': appId
  })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: toObject(concat([
      identityId
    ], sidecarIdentityIds), id => id, id => {})
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      dapr: daprEnabled ? daprSettings : null
      ingress: ingress == 'none' ? null : ingressSettings
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: empty(appInsightsName) ? [] : [
        {
          name: 'appinsights-connection-string'
          value: appInsights.properties.ConnectionString
        }
      ]
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: appId
          image: image
          resources: {
            cpu: json(scale.cpu)
            memory: scale.memory
          }
          env: env
          volumeMounts: volumeMounts
          probes: [
            {
              // Up to 60 s to start (10 checks, 6 s apart), then liveness takes over.
              type: 'Startup'
              httpGet: {
                path: livenessPath
                port: appPort
              }
              periodSeconds: 6
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              httpGet: {
                path: livenessPath
                port: appPort
              }
              periodSeconds: 10
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: readinessPath
                port: appPort
              }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      volumes: volumes
      scale: {
        minReplicas: scale.minReplicas
        maxReplicas: scale.maxReplicas
        rules: scaleRules
      }
    }
  }
}

output name string = app.name
output fqdn string = ingress == 'none' ? '' : app.properties.configuration.ingress.fqdn
