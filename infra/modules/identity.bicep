// The user-assigned identity every Container App, the Dapr components and the
// migration job run as: it reads Key Vault, pulls images, writes blobs and signs in
// to PostgreSQL with Entra ID.

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
