// One user-assigned identity per workload, each granted only its own roles elsewhere:
//   <app>       a service's identity: pulls its image, reads its own Key Vault secrets
//               (secret by secret), signs in to PostgreSQL as its own login, uses Blob
//               Storage only where it reads or writes artifacts;
//   migrate     the migration job: the PostgreSQL Entra administrator (schema owner);
//   dapr-redis  the Dapr Redis components' Entra identity (azureClientId): one component
//               serves every app it is scoped to, so its identity is shared by them.

param namePrefix string
param location string
param tags object
@description('Workloads that get an identity, e.g. the Dapr app ids, web, migrate, dapr-redis.')
param workloads string[]

resource identities 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = [for workload in workloads: {
  name: 'id-${namePrefix}-${workload}'
  location: location
  tags: union(tags, {
    workload: workload
  })
}]

@description('One entry per workload: workload, name, id, clientId, principalId.')
output list array = [for (workload, i) in workloads: {
  workload: workload
  name: identities[i].name
  id: identities[i].id
  clientId: identities[i].properties.clientId
  principalId: identities[i].properties.principalId
}]
