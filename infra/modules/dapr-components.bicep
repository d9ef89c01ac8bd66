// The Dapr components of components/ as Container Apps resources. Names and every setting
// that shapes behaviour (consumer groups, timeouts, concurrency, stream caps, allowed and
// protected topics, publishing and subscription scopes, key prefixes) are those of
// components/ (tests/infra/test_dapr_parity.py compares them). What differs:
//   - connection: Azure Managed Redis over TLS (port 10000) with Microsoft Entra ID
//     (`useEntraID`, the shared dapr-redis identity) instead of DURSOR_REDIS_* envRefs;
//   - secret stores: Container Apps runs one component with one identity for every app it
//     is scoped to, so each app gets its own Key Vault store `secretstore-<app id>`, read
//     as that app's identity (which may read only its own secrets), and finds it through
//     DURSOR_SECRET_STORE; locally one `secretstore` with per-app allowedSecrets;
//   - the Resiliency spec becomes one resiliencyPolicies resource per component it targets;
//   - no Configuration: Container Apps applies none (no access-control policy, no secret
//     scopes); see infra/README.md for what enforces those rules there.

param environmentName string
param vaultName string
@description('host:port of the Azure Managed Redis TLS endpoint.')
param redisAddress string
@description('Client id of the identity the Redis components sign in with.')
param redisClientId string
@description('App id -> client id of the identity its secret store reads Key Vault with.')
param secretStoreClientIds object

resource managedEnvironment 'Microsoft.App/managedEnvironments@2026-07-01' existing = {
  name: environmentName
}

var redisConnection = [
  {
    name: 'redisHost'
    value: redisAddress
  }
  {
    name: 'enableTLS'
    value: 'true'
  }
  {
    name: 'redisType'
    value: 'node'
  }
  {
    name: 'useEntraID'
    value: 'true'
  }
  {
    name: 'azureClientId'
    value: redisClientId
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
      {
        name: 'allowedTopics'
        value: 'run-requested,pr-requested,run-requested-dlq,pr-requested-dlq'
      }
      {
        name: 'protectedTopics'
        value: 'run-requested,pr-requested,run-requested-dlq,pr-requested-dlq'
      }
      {
        name: 'publishingScopes'
        value: 'run-api=run-requested,pr-requested;agent-runner=run-requested,pr-requested,run-requested-dlq,pr-requested-dlq'
      }
      {
        name: 'subscriptionScopes'
        value: 'run-api=run-requested-dlq,pr-requested-dlq;agent-runner=run-requested,pr-requested'
      }
    ])
    scopes: [
      'run-api'
      'agent-runner'
    ]
  }
}

// Fan-out: a consumer group per sidecar, so every replica receives every message.
// A restarted sidecar's new group starts at the head of the retained stream: the small
// cap bounds that backlog (why 1,000: components/pubsub-broadcast.yaml).
resource pubsubBroadcast 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'pubsub-broadcast'
  properties: {
    componentType: 'pubsub.redis'
    version: 'v1'
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
        value: '1000'
      }
      {
        name: 'allowedTopics'
        value: 'run-cancel-requested,run-events,run-cancel-requested-dlq,run-events-dlq'
      }
      {
        name: 'protectedTopics'
        value: 'run-cancel-requested,run-events,run-cancel-requested-dlq,run-events-dlq'
      }
      {
        name: 'publishingScopes'
        value: 'run-api=run-cancel-requested,run-events;agent-runner=run-events,run-cancel-requested-dlq;events-gateway=run-events-dlq'
      }
      {
        name: 'subscriptionScopes'
        value: 'run-api=run-cancel-requested-dlq,run-events-dlq;agent-runner=run-cancel-requested;events-gateway=run-events'
      }
    ])
    scopes: [
      'run-api'
      'agent-runner'
      'events-gateway'
    ]
  }
}

// Public integration topics (components/integrations.yaml): a component of their own, so
// another team's app is granted this one alone. An operator attaches an integration by
// adding its app id to the scopes and grants below (the example's id is here, as locally).
resource integrations 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'integrations'
  properties: {
    componentType: 'pubsub.redis'
    version: 'v1'
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
        value: '1'
      }
      {
        name: 'maxLenApprox'
        value: '100000'
      }
      {
        name: 'allowedTopics'
        value: 'run-lifecycle,pull-request-updated,run-submissions,run-submissions-dlq'
      }
      {
        name: 'protectedTopics'
        value: 'run-lifecycle,pull-request-updated,run-submissions,run-submissions-dlq'
      }
      {
        name: 'publishingScopes'
        value: 'run-api=run-lifecycle,pull-request-updated,run-submissions-dlq;agent-runner=run-lifecycle,pull-request-updated;example-integration=run-submissions'
      }
      {
        name: 'subscriptionScopes'
        value: 'run-api=run-submissions,run-submissions-dlq;example-integration=run-lifecycle,pull-request-updated'
      }
    ])
    scopes: [
      'run-api'
      'agent-runner'
      'example-integration'
    ]
  }
}

// Keys are `<app id>||<key>` as locally (no keyPrefix on either side).
resource statestore 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = {
  parent: managedEnvironment
  name: 'statestore'
  properties: {
    componentType: 'state.redis'
    version: 'v1'
    metadata: redisConnection
    scopes: [
      'events-gateway'
      'auth'
    ]
  }
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

// One Key Vault store per app, read as that app's identity: Key Vault RBAC on single
// secrets decides what each one can read (keyvault.bicep).
resource secretStores 'Microsoft.App/managedEnvironments/daprComponents@2026-07-01' = [for app in items(secretStoreClientIds): {
  parent: managedEnvironment
  name: 'secretstore-${app.key}'
  properties: {
    componentType: 'secretstores.azure.keyvault'
    version: 'v1'
    metadata: [
      {
        name: 'vaultName'
        value: vaultName
      }
      {
        name: 'azureClientId'
        value: app.value
      }
    ]
    scopes: [
      app.key
    ]
  }
}]

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

resource integrationsResiliency 'Microsoft.App/managedEnvironments/daprComponents/resiliencyPolicies@2026-07-01' = {
  parent: integrations
  name: 'dursor-resiliency'
  properties: pubsubInboundRetry
}

@description('App id -> name of its secret store component (DURSOR_SECRET_STORE).')
output secretStoreNames object = toObject(items(secretStoreClientIds), app => app.key, app => 'secretstore-${app.key}')
