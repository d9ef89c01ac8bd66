// `alembic upgrade head` as a manually triggered Container Apps job, from the run-api
// image (which carries alembic.ini and migrations/). scripts/migrate-db.sh starts it
// and waits; a rollout migrates before it switches the apps to a new image.

param name string
param location string
param tags object
param environmentId string
param identityId string
param registryServer string
param image string
param keyVaultUri string

resource job 'Microsoft.App/jobs@2026-07-01' = {
  name: name
  location: location
  tags: tags
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
          identity: identityId
        }
      ]
      secrets: [
        {
          name: 'postgresql-connection-string'
          keyVaultUrl: '${keyVaultUri}secrets/postgresql-connection-string'
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
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
          env: [
            {
              name: 'DURSOR_DATABASE_URL'
              secretRef: 'postgresql-connection-string'
            }
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
    }
  }
}

output name string = job.name
