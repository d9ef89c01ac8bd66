// The migration job and one Container App per service plus the static web UI, in the
// environment of container-environment.bicep (whose Dapr components they load).
// events-gateway and web have `external` ingress (reachable from the VNet and the Private
// Link connection, not from the internet); run-api and auth `internal` (other apps
// only); agent-runner none.
//
// deployStage lets scripts/deploy.sh bring things up in order on the first rollout:
// foundation (environment + components) -> migrate (+ job) -> apps (+ the apps).

import { ServiceScale } from './types.bicep'

param namePrefix string
param location string
param tags object
@description('The environment of container-environment.bicep.')
param environmentId string
@description('Address range of the apps subnet: the ingress proxies the gateway trusts for X-Forwarded-For.')
param appsSubnetPrefix string
param appInsightsName string
@description('identities.bicep `list`: one {workload, name, id, clientId, principalId} per workload.')
param identities array
@description('App ids of the Dapr-enabled services (main.bicep: the keys of `access`).')
param daprApps string[]
param registryServer string
param imageTag string
param storageBlobEndpoint string
param storageContainerName string
param postgresHost string
@description('Port the services connect to (PgBouncer 6432 where available).')
param postgresServicePort int
param databaseName string
@minValue(1)
@maxValue(200)
param databasePoolSize int
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
param webScale ServiceScale
@description('Runs one agent-runner replica executes at once (DURSOR_MAX_CONCURRENCY).')
@minValue(1)
param agentRunnerSlots int
@description('DURSOR_SANDBOX_ALLOW_UNJAILED of the agent-runner: this platform cannot jail agents (no CAP_SYS_ADMIN, no user namespaces).')
param agentsRunUnjailed bool
@description('Front Door profile id: the gateway refuses requests without this X-Azure-FDID.')
param frontDoorId string
@allowed([
  'foundation'
  'migrate'
  'apps'
])
param deployStage string

var deployJob = deployStage != 'foundation'
var deployApps = deployStage == 'apps'
var identityOf = toObject(identities, entry => entry.workload)

func imageOf(registry string, service string, tag string) string => '${registry}/dursor/${service}:${tag}'

func httpScaleRule(concurrentRequests int) object => {
  name: 'http-concurrency'
  http: {
    metadata: {
      concurrentRequests: string(concurrentRequests)
    }
  }
}

func databaseUrl(login string, host string, port int, database string) string => 'postgresql+asyncpg://${login}@${host}:${port}/${database}?ssl=require'

// What every Dapr service reads, whoever it is.
var sharedEnv = [
  {
    name: 'DURSOR_LOG_FORMAT'
    value: 'json'
  }
  // Declarative subscriptions are a preview resource on Container Apps: services answer
  // /dapr/subscribe with the entries of components/subscriptions.yaml instead.
  {
    name: 'DURSOR_PROGRAMMATIC_SUBSCRIPTIONS'
    value: 'true'
  }
  {
    // Read by dursor_kit.telemetry: traces and metrics go to Azure Monitor.
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    secretRef: 'appinsights-connection-string'
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
    // Entra tokens of AZURE_CLIENT_ID's identity, renewed before expiry (dursor_kit.db.engine).
    name: 'DURSOR_DATABASE_AUTH'
    value: 'entra'
  }
  {
    name: 'DURSOR_DATABASE_POOL_SIZE'
    value: string(databasePoolSize)
  }
]

// Who the service is: its app id, identity, PostgreSQL login and secret store.
var ownEnv = toObject(daprApps, app => app, app => [
  {
    name: 'DURSOR_APP_ID'
    value: app
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityOf[app].clientId
  }
  {
    name: 'DURSOR_DATABASE_URL'
    value: databaseUrl(identityOf[app].name, postgresHost, postgresServicePort, databaseName)
  }
  {
    name: 'DURSOR_SECRET_STORE'
    value: 'secretstore-${app}'
  }
])

var artifactsEnv = [
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

// KEDA's postgresql scaler asks how many runs are queued or running; replicas wanted =
// ceil(count / slots per replica), between the app's min and max. Running runs count too,
// so a replica busy with agents is never scaled in while work waits. It signs in as
// agent-runner's identity (Entra token), which may read `runs`.
var queuedRunsRule = {
  name: 'queued-runs'
  custom: {
    type: 'postgresql'
    identity: identityOf['agent-runner'].id
    metadata: {
      host: postgresHost
      port: '5432'
      userName: identityOf['agent-runner'].name
      dbName: databaseName
      sslmode: 'require'
      query: 'SELECT count(*) FROM runs WHERE status IN (\'queued\', \'running\')'
      targetQueryValue: string(agentRunnerSlots)
      activationTargetQueryValue: '0'
    }
  }
}

module migrateJob './migrate-job.bicep' = if (deployJob) {
  name: '${namePrefix}-migrate-job'
  params: {
    name: '${namePrefix}-migrate-db'
    location: location
    tags: tags
    environmentId: environmentId
    identity: identityOf.migrate
    registryServer: registryServer
    image: imageOf(registryServer, 'run-api', imageTag)
    databaseUrl: databaseUrl(identityOf.migrate.name, postgresHost, 5432, databaseName)
    logins: map(daprApps, app => {
      role: 'dursor_${replace(app, '-', '_')}'
      login: identityOf[app].name
      object_id: identityOf[app].principalId
    })
  }
}

module eventsGateway './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-events-gateway'
  params: {
    name: '${namePrefix}-events-gateway'
    location: location
    tags: tags
    environmentId: environmentId
    identityId: identityOf['events-gateway'].id
    sidecarIdentityIds: [
      identityOf['dapr-redis'].id
    ]
    registryServer: registryServer
    image: imageOf(registryServer, 'events-gateway', imageTag)
    appId: 'events-gateway'
    appPort: 8080
    scale: gatewayScale
    // The one API entry point, reached only through Front Door's Private Link. SSE streams
    // stay open through the ingress because the gateway sends `: ping` every 15 s (idle
    // timeout: 4 min, or the premium ingress's) and clients resume with Last-Event-ID.
    ingress: 'external'
    appInsightsName: appInsightsName
    env: concat(sharedEnv, ownEnv['events-gateway'], [
      {
        // Requests whose X-Azure-FDID is not this profile's get 403 (defence in depth).
        name: 'DURSOR_FRONT_DOOR_ID'
        value: frontDoorId
      }
      {
        // The per-client rate limit reads the address Front Door forwards, not the proxy's.
        name: 'DURSOR_TRUSTED_PROXIES'
        value: string([
          appsSubnetPrefix
        ])
      }
    ])
    scaleRules: [
      httpScaleRule(gatewayScale.?concurrentRequests ?? 200)
    ]
  }
}

module runApi './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-run-api'
  params: {
    name: '${namePrefix}-run-api'
    location: location
    tags: tags
    environmentId: environmentId
    identityId: identityOf['run-api'].id
    sidecarIdentityIds: [
      identityOf['dapr-redis'].id
    ]
    registryServer: registryServer
    image: imageOf(registryServer, 'run-api', imageTag)
    appId: 'run-api'
    appPort: 8081
    scale: runApiScale
    ingress: 'internal'
    appInsightsName: appInsightsName
    env: concat(sharedEnv, ownEnv['run-api'], artifactsEnv)
    scaleRules: [
      httpScaleRule(runApiScale.?concurrentRequests ?? 100)
    ]
  }
}

module agentRunner './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-agent-runner'
  params: {
    name: '${namePrefix}-agent-runner'
    location: location
    tags: tags
    environmentId: environmentId
    identityId: identityOf['agent-runner'].id
    sidecarIdentityIds: [
      identityOf['dapr-redis'].id
    ]
    registryServer: registryServer
    image: imageOf(registryServer, 'agent-runner', imageTag)
    appId: 'agent-runner'
    appPort: 8082
    scale: agentRunnerScale
    ingress: 'none'
    appInsightsName: appInsightsName
    env: concat(sharedEnv, ownEnv['agent-runner'], artifactsEnv, [
      {
        name: 'DURSOR_MAX_CONCURRENCY'
        value: string(agentRunnerSlots)
      }
      {
        name: 'DURSOR_WORKSPACES_DIR'
        value: '/workspaces'
      }
      {
        // The runner's jail is on by default; its probe fails here (no namespaces), so
        // agents run only by this explicit degrade, or are refused.
        name: 'DURSOR_SANDBOX_ALLOW_UNJAILED'
        value: agentsRunUnjailed ? 'true' : 'false'
      }
    ])
    scaleRules: [
      queuedRunsRule
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
}

module auth './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-auth'
  params: {
    name: '${namePrefix}-auth'
    location: location
    tags: tags
    environmentId: environmentId
    identityId: identityOf.auth.id
    sidecarIdentityIds: [
      identityOf['dapr-redis'].id
    ]
    registryServer: registryServer
    image: imageOf(registryServer, 'auth', imageTag)
    appId: 'auth'
    appPort: 8083
    scale: authScale
    ingress: 'internal'
    appInsightsName: appInsightsName
    env: concat(sharedEnv, ownEnv.auth)
    scaleRules: [
      httpScaleRule(authScale.?concurrentRequests ?? 100)
    ]
  }
}

// The browser UI: static files (web/Dockerfile), no Dapr, no secrets, no data access.
module web './container-app.bicep' = if (deployApps) {
  name: '${namePrefix}-web'
  params: {
    name: '${namePrefix}-web'
    location: location
    tags: tags
    environmentId: environmentId
    identityId: identityOf.web.id
    registryServer: registryServer
    image: imageOf(registryServer, 'web', imageTag)
    appId: 'web'
    daprEnabled: false
    appPort: 8080
    scale: webScale
    ingress: 'external'
    env: []
    livenessPath: '/'
    readinessPath: '/'
    scaleRules: [
      httpScaleRule(webScale.?concurrentRequests ?? 100)
    ]
  }
}

output migrateJobName string = '${namePrefix}-migrate-db'
output appNames object = {
  eventsGateway: '${namePrefix}-events-gateway'
  runApi: '${namePrefix}-run-api'
  agentRunner: '${namePrefix}-agent-runner'
  auth: '${namePrefix}-auth'
  web: '${namePrefix}-web'
}
@description('Host name of events-gateway inside the environment (empty before the apps stage).')
output gatewayFqdn string = deployApps ? eventsGateway.outputs.fqdn : ''
@description('Host name of the web UI inside the environment (empty before the apps stage).')
output webFqdn string = deployApps ? web.outputs.fqdn : ''
