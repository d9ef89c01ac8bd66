// Blob Storage for run artifacts, with the seed's lifecycle: blobs move from hot to
// cool after 30 days, to archive after 90 and are deleted after 365; everything under
// temp/ is deleted after 7 days. Entra ID only (no shared keys), private endpoint only.
// One container (DURSOR_ARTIFACTS_CONTAINER) with the seed's prefixes:
// workspaces/, artifacts/, temp/.

param name string
param location string
param tags object
param identityPrincipalId string
param dataSubnetId string
param privateDnsZoneId string
@description('Standard_LRS in dev; GRS in prod (the seed\'s DR). Archive needs LRS, GRS or RA-GRS.')
@allowed([
  'Standard_LRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string
param containerName string

var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var lifecycle = {
  coolAfterDays: 30
  archiveAfterDays: 90
  deleteAfterDays: 365
  tempDeleteAfterDays: 7
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Deny'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource lifecyclePolicy 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'tier-workspaces-and-artifacts'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${containerName}/workspaces/'
                '${containerName}/artifacts/'
              ]
            }
            actions: {
              baseBlob: {
                tierToCool: {
                  daysAfterModificationGreaterThan: lifecycle.coolAfterDays
                }
                tierToArchive: {
                  daysAfterModificationGreaterThan: lifecycle.archiveAfterDays
                }
                delete: {
                  daysAfterModificationGreaterThan: lifecycle.deleteAfterDays
                }
              }
            }
          }
        }
        {
          name: 'delete-temp'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${containerName}/temp/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: lifecycle.tempDeleteAfterDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource appsWriteBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, blobDataContributorRoleId)
  scope: account
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
  }
}

module endpoint './private-endpoint.bicep' = {
  name: '${name}-blob-pe'
  params: {
    name: '${name}-blob-pe'
    location: location
    tags: tags
    subnetId: dataSubnetId
    targetResourceId: account.id
    groupId: 'blob'
    privateDnsZoneId: privateDnsZoneId
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerName string = container.name
