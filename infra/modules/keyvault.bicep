// Key Vault: RBAC authorization, purge protection, private endpoint only. It holds the
// secrets the services read in Azure through their Dapr secret store: each app's identity
// is a Key Vault Secrets User on exactly the secrets that app reads (role assignments
// scoped to single secrets), never on the vault. No value is written here except those
// handed in through the @secure() `seedSecrets` object, which scripts/deploy.sh fills
// only for names that do not exist yet: a redeployment never overwrites a secret.

param name string
param location string
param tags object
param dataSubnetId string
param privateDnsZoneId string
param logAnalyticsWorkspaceId string
@description('Object id of whoever may read and write secret values (e.g. the operators group); empty for none.')
param secretsOfficerPrincipalId string = ''
@description('{secret, principalId} pairs: who may read which secret.')
param secretReaders array

@secure()
@description('name -> value of secrets to create; only names of applicationSecretNames are accepted.')
param seedSecrets object = {}

// The secrets Azure deployments read through Dapr (tests/infra checks them against the
// code and against each app's allowed secrets in components/). Database access uses
// Entra tokens and the sidecar tokens come from Container Apps: neither needs a secret.
var applicationSecretNames = [
  'encryption-keys'
  'jwt-signing-keys'
  'admin-password'
  'github-webhook-secret'
  'github-app-id'
  'github-app-private-key'
]

var roleIds = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      bypass: 'None'
      defaultAction: 'Deny'
    }
  }
}

resource seeded 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = [for secret in items(seedSecrets): if (contains(applicationSecretNames, secret.key)) {
  parent: vault
  name: secret.key
  properties: {
    value: secret.value
    contentType: 'text/plain'
  }
}]

resource secrets 'Microsoft.KeyVault/vaults/secrets@2026-05-15' existing = [for secretName in applicationSecretNames: {
  parent: vault
  name: secretName
}]

resource readers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for grant in secretReaders: {
  name: guid(vault.id, grant.secret, grant.principalId, roleIds.keyVaultSecretsUser)
  scope: secrets[indexOf(applicationSecretNames, grant.secret)]
  properties: {
    principalId: grant.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
  }
  dependsOn: [
    seeded
  ]
}]

resource officers 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretsOfficerPrincipalId)) {
  name: guid(vault.id, secretsOfficerPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: secretsOfficerPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
  }
}

module endpoint './private-endpoint.bicep' = {
  name: '${name}-pe'
  params: {
    name: '${name}-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: vault.id
    groupId: 'vault'
    privateDnsZoneId: privateDnsZoneId
  }
}

resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
output applicationSecretNames array = applicationSecretNames
