// Where untrusted agents belong on Container Apps: a pool of dynamic sessions, each a
// Hyper-V sandbox of its own (custom container: the agent-runner image, which carries the
// agent CLIs). The agent-runner container cannot build its bubblewrap jail there (no
// privileged mode, no capabilities to add, user namespaces not offered), so on Container
// Apps the jail's place is taken by a session per run. infra/README.md "Agents on
// Container Apps" says what exists and what the runner does not do yet.

param name string
param location string
param tags object
@description('The environment of container-environment.bicep.')
param environmentId string
param registryServer string
@description('Image of one session: the agent-runner image (agent CLIs, git).')
param image string
@description('Identity that pulls the image (AcrPull on the registry): resource id.')
param pullIdentityId string
@description('Sessions that may run at once (one per agent run).')
@minValue(1)
@maxValue(600)
param maxConcurrentSessions int
@description('Sessions kept started and unassigned, so a run does not wait for one.')
@minValue(0)
@maxValue(100)
param readySessions int
@description('Seconds an idle session lives before the pool deletes it.')
@minValue(300)
@maxValue(3600)
param cooldownSeconds int = 600

resource pool 'Microsoft.App/sessionPools@2026-07-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${pullIdentityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    poolManagementType: 'Dynamic'
    containerType: 'CustomContainer'
    scaleConfiguration: {
      maxConcurrentSessions: maxConcurrentSessions
      readySessionInstances: readySessions
    }
    dynamicPoolConfiguration: {
      lifecycleConfiguration: {
        lifecycleType: 'Timed'
        cooldownPeriodInSeconds: cooldownSeconds
      }
    }
    customContainerTemplate: {
      registryCredentials: {
        server: registryServer
        identity: pullIdentityId
      }
      containers: [
        {
          name: 'agent'
          image: image
          resources: {
            cpu: 2
            memory: '4Gi'
          }
        }
      ]
      // The port a session serves the runner on (the runner's session protocol is not
      // built yet: README "Agents on Container Apps").
      ingress: {
        targetPort: 8090
      }
    }
    // Model providers and registries: the environment's egress firewall decides where.
    sessionNetworkConfiguration: {
      status: 'EgressEnabled'
    }
  }
}

output id string = pool.id
output name string = pool.name
output managementEndpoint string = pool.properties.poolManagementEndpoint
