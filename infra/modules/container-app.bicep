// One service as a Container App with a managed Dapr sidecar: user-assigned identity,
// images pulled with that identity, secrets as Key Vault references, health probes on
// /healthz (live) and /readyz (ready: database and sidecar).

import { ServiceScale } from './types.bicep'

param name string
param location string
param tags object
param environmentId string
param identityId string
param registryServer string
param image string
@description('Dapr app id; the same as in dapr.yaml and the component scopes.')
param appId string
@description('Port uvicorn listens on; the same as in dapr.yaml.')
param appPort int
param scale ServiceScale
@allowed([
  'external'
  'internal'
  'none'
])
@description('external: reachable from the internet (Front Door); internal: inside the environment only.')
param ingress string
param env array
@description('Key Vault references ({name, keyVaultUrl, identity}); values never pass through here.')
param keyVaultSecrets array
@description('Its connection string becomes the secret appinsights-connection-string.')
param appInsightsName string
param scaleRules array
param volumes array = []
param volumeMounts array = []
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

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
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
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      dapr: {
        enabled: true
        appId: appId
        appPort: appPort
        appProtocol: 'http'
        enableApiLogging: false
        logLevel: 'warn'
        appHealth: {
          enabled: true
          path: '/healthz'
          probeIntervalSeconds: 5
          probeTimeoutMilliseconds: 2000
          threshold: 3
        }
      }
      ingress: ingress == 'none' ? null : ingressSettings
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: concat(keyVaultSecrets, [
        {
          name: 'appinsights-connection-string'
          value: appInsights.properties.ConnectionString
        }
      ])
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
              type: 'Startup'
              httpGet: {
                path: '/healthz'
                port: appPort
              }
              periodSeconds: 2
              failureThreshold: 30
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: appPort
              }
              periodSeconds: 10
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
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
