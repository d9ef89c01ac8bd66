// The Dapr components of components/ as Container Apps resources, with the same names
// so code never changes between a laptop and Azure. Container Apps uses a flat schema
// (componentType, version, metadata, secrets, scopes) and differs from components/ in:
//   - connection: Azure Cache for Redis over TLS (6380), its key read from Key Vault
//     through the `secretstore` component (secretStoreComponent + secretRef), instead
//     of DURSOR_REDIS_HOST / DURSOR_REDIS_PASSWORD envRefs;
//   - secretstore: secretstores.azure.keyvault read with the managed identity,
//     instead of secretstores.local.file;
//   - the Resiliency spec becomes one resiliencyPolicies resource per component it
//     targets; the Configuration `dursor` (sqlite name resolution) has no counterpart:
//     Container Apps resolves app ids itself and sends Dapr traces to App Insights;
//   - declarative Subscriptions cannot be Container Apps resources: every app serves
//     the same subscriptions programmatically (GET /dapr/subscribe), see infra/README.md.

param environmentName string
param keyVaultName string
param identityClientId string
@description('host:port of the TLS endpoint.')
param redisAddress string
param redisClustered bool

resource managedEnvironment 'Microsoft.App/managedEnvironments@2026-07-01' existing = {
  name: environmentName
}

// Components that read secrets name this store; `secretRef` is then a Key Vault secret.
var secretStoreName = 'secretstore'

var redisConnection = [
  {
    name: 'redisHost'
    value: redisAddress
  }
  {
    name: 'redisPassword'
    secretRef: 'redis-password'
  }
  {
    name: 'enableTLS'
    value: 'true'
  }
  {
    name: 'redisType'
    value: redisClustered ? 'cluster' : 'node'
  }
]

// Same retry as components/resiliency.yaml (pubsubInbound): exponential up to 8 s, 5
// retries, inside processingTimeout; what still fails goes to the dead-letter topic.
var pubsubInboundRetry = {
  inboundPolicy: {
    httpRetryPolicy: {
      maxRetries: 5
      retryBackOff: {
        initialDelayInMilliseconds: 500
        maxIntervalInMilliseconds: 8000
      }
    }
  }
}

// Work queue: one consumer group per app id, so each message reaches one replica.
resource pubsub 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'pubsub'
  properties: {
    componentType: 'pubsub.redis'
    version: 'v1'
    secretStoreComponent: secretStoreName
    metadata: concat(redisConnection, [
      {
        name: 'processingTimeout'
        value: '60000'
      }
      {
        name: 'redeliverInterval'
        value: '5000'
      }
      {
        name: 'concurrency'
        value: '32'
      }
      {
        name: 'maxLenApprox'
        value: '100000'
      }
    ])
    scopes: [
      'run-api'
      'agent-runner'
    ]
  }
  dependsOn: [
    secretstore
  ]
}

// Fan-out: a consumer group per sidecar, so every replica receives every message.
resource pubsubBroadcast 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'pubsub-broadcast'
  properties: {
    componentType: 'pubsub.redis'
    version: 'v1'
    secretStoreComponent: secretStoreName
    metadata: concat(redisConnection, [
      {
        name: 'consumerID'
        value: '{appID}-{uuid}'
      }
      {
        name: 'processingTimeout'
        value: '30000'
      }
      {
        name: 'redeliverInterval'
        value: '5000'
      }
      {
        name: 'concurrency'
        value: '64'
      }
      {
        name: 'maxLenApprox'
        value: '10000'
      }
    ])
    scopes: [
      'run-api'
      'agent-runner'
      'events-gateway'
    ]
  }
  dependsOn: [
    secretstore
  ]
}

resource statestore 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'statestore'
  properties: {
    componentType: 'state.redis'
    version: 'v1'
    secretStoreComponent: secretStoreName
    metadata: concat(redisConnection, [
      {
        name: 'keyPrefix'
        value: 'name'
      }
    ])
    scopes: [
      'events-gateway'
      'auth'
    ]
  }
  dependsOn: [
    secretstore
  ]
}

// agent-runner's CI poll (components/ci-poll.yaml): a cron input binding.
resource ciPoll 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'ci-poll'
  properties: {
    componentType: 'bindings.cron'
    version: 'v1'
    metadata: [
      {
        name: 'schedule'
        value: '@every 30s'
      }
      {
        name: 'direction'
        value: 'input'
      }
    ]
    scopes: [
      'agent-runner'
    ]
  }
}

// Every secret name of dursor_contracts.secret_names is a Key Vault secret of the same name.
resource secretstore 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'secretstore'
  properties: {
    componentType: 'secretstores.azure.keyvault'
    version: 'v1'
    metadata: [
      {
        name: 'vaultName'
        value: keyVaultName
      }
      {
        name: 'azureClientId'
        value: identityClientId
      }
    ]
  }
}

resource pubsubResiliency 'Microsoft.App/managedEnvironments/daprComponents/resiliencyPolicies@2026-07-01' = {
  parent: pubsub
  name: 'dursor-resiliency'
  properties: pubsubInboundRetry
}

resource pubsubBroadcastResiliency 'Microsoft.App/managedEnvironments/daprComponents/resiliencyPolicies@2026-07-01' = {
  parent: pubsubBroadcast
  name: 'dursor-resiliency'
  properties: pubsubInboundRetry
}
