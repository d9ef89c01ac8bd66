// Production: the seed's "本番環境" sizes, zone redundancy and DR in Japan West.
// Values that change per run come from the environment, set by scripts/deploy.sh
// (secrets never live in this file).
using '../main.bicep'

param environmentName = 'prod'
param secondaryLocation = 'japanwest'
param imageTag = readEnvironmentVariable('DURSOR_IMAGE_TAG', 'latest')
param deployStage = readEnvironmentVariable('DURSOR_DEPLOY_STAGE', 'apps')
param alertEmail = readEnvironmentVariable('DURSOR_ALERT_EMAIL', '')
param secretsOfficerPrincipalId = readEnvironmentVariable('DURSOR_SECRETS_OFFICER_ID', '')
param authAudience = readEnvironmentVariable('DURSOR_AUTH_AUDIENCE', 'api://dursor')
param seedSecrets = json(readEnvironmentVariable('DURSOR_SEED_SECRETS', '{}'))
// Production refuses agent runs (only `llm` runs) until the session pool replaces the
// jail; set true only to accept untrusted agents running unjailed (see main.bicep).
param agentsRunUnjailed = false

// Seed: api 2-10 replicas, 0.5 vCPU / 1Gi, scaled on HTTP requests. Open SSE streams
// count as concurrent requests (~50 KB each), hence the higher target for the gateway.
param gatewayScale = {
  minReplicas: 2
  maxReplicas: 10
  cpu: '0.5'
  memory: '1Gi'
  concurrentRequests: 500
}
param runApiScale = {
  minReplicas: 2
  maxReplicas: 10
  cpu: '0.5'
  memory: '1Gi'
  concurrentRequests: 100
}
// Seed: worker 1-20 replicas (its table; 2 in its prod sample), 1.0 vCPU / 2Gi, scaled on
// the queue: KEDA counts queued and running runs in PostgreSQL.
param agentRunnerScale = {
  minReplicas: 1
  maxReplicas: 20
  cpu: '1.0'
  memory: '2Gi'
}
param agentRunnerSlots = 2
// Through PgBouncer (transaction pooling): client connections are cheap.
param databasePoolSize = 10
// Seed: web 2-5 replicas, 0.25 vCPU / 512Mi, scaled on HTTP requests: the web UI.
param webScale = {
  minReplicas: 2
  maxReplicas: 5
  cpu: '0.25'
  memory: '0.5Gi'
  concurrentRequests: 200
}
// auth gets the Web pool's size too.
param authScale = {
  minReplicas: 2
  maxReplicas: 5
  cpu: '0.25'
  memory: '0.5Gi'
  concurrentRequests: 100
}

// Seed: General Purpose D4s_v3, 256 GB, 35-day backups, zone-redundant HA, 2 read
// replicas: one in the primary region (read scale), one in Japan West (DR).
param postgres = {
  skuName: 'Standard_D4s_v3'
  tier: 'GeneralPurpose'
  storageSizeGB: 256
  backupRetentionDays: 35
  geoRedundantBackup: true
  zoneRedundantHa: true
  readReplicaLocations: [
    'japaneast'
    'japanwest'
  ]
  maxConnections: 1719
  version: '16'
}

// Seed: Premium P1 (6 GB), clustering with 3 shards, geo-replication. Azure Managed
// Redis Balanced_B5 (6 GB) shards behind one endpoint (EnterpriseCluster), zone-redundant
// HA, active geo-replica in the secondary region.
param redis = {
  skuName: 'Balanced_B5'
  clusteringPolicy: 'EnterpriseCluster'
  highAvailability: true
  geoReplication: true
}

// Seed: GRS for Blob (DR); archive tiering needs LRS/GRS/RA-GRS.
param storageSku = 'Standard_GRS'
param registrySku = 'Standard'
param firewallTier = 'Standard'
param zoneRedundant = true
param logRetentionDays = 90
