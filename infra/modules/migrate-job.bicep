// The schema migration as a manually triggered Container Apps job from the run-api image
// (which carries alembic.ini and migrations/), signed in to PostgreSQL as the server's
// Entra administrator (its own identity, Entra token; no password exists). The init
// container runs `alembic upgrade head`; the main container then gives each service's
// identity its login and service role (`python -m dursor_kit.entra_logins`).
// scripts/migrate-db.sh starts it and waits; a rollout migrates before it switches apps.

param name string
param location string
param tags object
param environmentId string
@description('The job\'s identity: resource id, client id and name (its PostgreSQL login).')
param identity object
param registryServer string
param image string
@description('SQLAlchemy URL of the database on the server\'s own port (not PgBouncer: DDL).')
param databaseUrl string
@description('[{role, login, object_id}] for dursor_kit.entra_logins.')
param logins array

var env = [
  {
    name: 'DURSOR_DATABASE_URL'
    value: databaseUrl
  }
  {
    name: 'DURSOR_DATABASE_AUTH'
    value: 'entra'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identity.clientId
  }
  {
    name: 'DURSOR_ENTRA_LOGINS'
    value: string(logins)
  }
]

var resources = {
  cpu: json('0.5')
  memory: '1Gi'
}

resource job 'Microsoft.App/jobs@2026-07-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 1800
      replicaRetryLimit: 0
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      registries: [
        {
          server: registryServer
          identity: identity.id
        }
      ]
    }
    template: {
      initContainers: [
        {
          name: 'migrate'
          image: image
          command: [
            'alembic'
          ]
          args: [
            'upgrade'
            'head'
          ]
          env: env
          resources: resources
        }
      ]
      containers: [
        {
          name: 'logins'
          image: image
          command: [
            'python'
          ]
          args: [
            '-m'
            'dursor_kit.entra_logins'
          ]
          env: env
          resources: resources
        }
      ]
    }
  }
}

output name string = job.name
