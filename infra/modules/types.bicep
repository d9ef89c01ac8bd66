// Shared parameter shapes, imported by main.bicep and the modules that size things.

@export()
@description('Replicas and size of one Container App (CPU:memory must be 1:2 on the Consumption profile).')
type ServiceScale = {
  @minValue(0)
  minReplicas: int
  @minValue(1)
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
@description('Azure Cache for Redis tier, clustering and geo-replication.')
type RedisSettings = {
  skuName: 'Basic' | 'Standard' | 'Premium'
  family: 'C' | 'P'
  capacity: int
  @description('0 = not clustered; Premium only.')
  shardCount: int
  @description('Passive geo-replica in the secondary region; Premium only.')
  geoReplication: bool
}

@export()
@description('Seed thresholds: warning and critical level of one alert.')
type AlertLevels = {
  warning: int
  critical: int
}
