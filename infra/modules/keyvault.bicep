// Key Vault: RBAC authorization, purge protection, private endpoint only. It holds
// every secret the services read through the Dapr `secretstore` component (Key Vault
// secrets of the same names) plus the ones infrastructure derives (redis-password,
// written by redis.bicep). No value is written here except those handed in through
// the @secure() `seedSecrets` object, which scripts/deploy.sh fills only for names
// that do not exist yet: a redeployment never overwrites a secret.

param name string
param location string
param tags object
param identityPrincipalId string
param dataSubnetId string
param privateDnsZoneId string
param logAnalyticsWorkspaceId string
@description('Object id of whoever may read and write secret values (e.g. the operators group); empty for none.')
param secretsOfficerPrincipalId string = ''

@secure()
@description('name -> value of secrets to create; only names of applicationSecretNames are accepted.')
param seedSecrets object = {}

// Every name in dursor_contracts.secret_names.ALL_SECRETS (tests/infra checks this list).
var applicationSecretNames = [
  'postgresql-connection-string'
  'encryption-keys'
  'jwt-signing-keys'
  'admin-password'
  'github-webhook-secret'
  'github-app-id'
  'github-app-private-key'
  'app-api-token-events-gateway'
  'app-api-token-run-api'
  'app-api-token-agent-runner'
  'app-api-token-auth'
]

var roleIds = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
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
      bypass: 'AzureServices'
      defaultAction: 'Deny'
    }
  }
}

resource seeded 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in items(seedSecrets): if (contains(applicationSecretNames, secret.key)) {
  parent: vault
  name: secret.key
  properties: {
    value: secret.value
    contentType: 'text/plain'
  }
}]

resource appsReadSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
  }
}

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
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
output applicationSecretNames array = applicationSecretNames
