// Blob Storage for run artifacts, with the seed's lifecycle: blobs move from hot to
// cool after 30 days, to archive after 90 and are deleted after 365; everything under
// temp/ is deleted after 7 days. Entra ID only (no shared keys), private endpoint only.
// Data roles are scoped to the artifacts container: agent-runner writes (Contributor),
// run-api reads patches (Reader); no other identity has a data role.
// One container (DURSOR_ARTIFACTS_CONTAINER) with the seed's prefixes:
// workspaces/, artifacts/, temp/.

param name string
param location string
param tags object
@description('Principal ids that write artifacts (Storage Blob Data Contributor on the container).')
param blobWriterPrincipalIds string[]
@description('Principal ids that read artifacts (Storage Blob Data Reader on the container).')
param blobReaderPrincipalIds string[]
param logAnalyticsWorkspaceId string
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

var blobDataRoleIds = {
  contributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  reader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}
var blobGrants = concat(
  map(blobWriterPrincipalIds, id => {
    principalId: id
    role: blobDataRoleIds.contributor
  }),
  map(blobReaderPrincipalIds, id => {
    principalId: id
    role: blobDataRoleIds.reader
  })
)
var lifecycle = {
  coolAfterDays: 30
  archiveAfterDays: 90
  deleteAfterDays: 365
  tempDeleteAfterDays: 7
}

resource account 'Microsoft.Storage/storageAccounts@2026-09-01' = {
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

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
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

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource lifecyclePolicy 'Microsoft.Storage/storageAccounts/managementPolicies@2026-09-01' = {
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

resource artifactRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for grant in blobGrants: {
  name: guid(container.id, grant.principalId, grant.role)
  scope: container
  properties: {
    principalId: grant.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.role)
  }
}]

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

resource accountMetrics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerName string = container.name
