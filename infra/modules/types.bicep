// Shared parameter shapes, imported by main.bicep and the modules that size things.

@export()
@description('Replicas and size of one Container App (CPU:memory must be 1:2 on the Consumption profile).')
type ServiceScale = {
  @minValue(0)
  @maxValue(1000)
  minReplicas: int
  @minValue(1)
  @maxValue(1000)
  maxReplicas: int
  @description('vCPU as a string, e.g. \'0.5\'.')
  cpu: string
  @description('Memory, e.g. \'1Gi\'.')
  memory: string
  @description('HTTP scale rule: concurrent requests per replica before adding one.')
  concurrentRequests: int?
}

@export()
@description('Azure Database for PostgreSQL Flexible Server sizing, backup and replicas.')
type PostgresSettings = {
  skuName: string
  @description('The built-in PgBouncer needs GeneralPurpose or MemoryOptimized; Burstable connects directly.')
  tier: 'Burstable' | 'GeneralPurpose' | 'MemoryOptimized'
  storageSizeGB: int
  @minValue(7)
  @maxValue(35)
  backupRetentionDays: int
  geoRedundantBackup: bool
  zoneRedundantHa: bool
  @description('One read replica per entry, in that region.')
  readReplicaLocations: string[]
  @description('max_connections of the SKU; the connection alerts are percentages of it.')
  maxConnections: int
  version: string
}

@export()
@description('Azure Managed Redis (Microsoft.Cache/redisEnterprise): SKU, clustering and geo-replication.')
type RedisSettings = {
  @description('e.g. Balanced_B0 (0.5 GB) in dev, Balanced_B5 (6 GB) in prod.')
  skuName: string
  @description('NoCluster: one shard; EnterpriseCluster: sharded behind one endpoint (Dapr and KEDA see a single node).')
  clusteringPolicy: 'NoCluster' | 'EnterpriseCluster'
  highAvailability: bool
  @description('Active geo-replication to a second cache in the secondary region (needs EnterpriseCluster).')
  geoReplication: bool
}

@export()
@description('Seed thresholds: warning and critical level of one alert.')
type AlertLevels = {
  warning: int
  critical: int
}

@export()
@description('A Dapr-enabled service: its app id, port and what its identity may do.')
type AppAccess = {
  @description('Key Vault secrets its sidecar reads through its secret store (Key Vault Secrets User on each).')
  secrets: string[]
  @description('Storage Blob Data role on the artifacts container: none, reader or contributor.')
  blob: 'none' | 'reader' | 'contributor'
  @description('Whether its sidecar loads the Redis components (pubsub, pubsub-broadcast, statestore).')
  redis: bool
}
