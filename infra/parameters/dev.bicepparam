// Development: the seed's "開発環境" sizes. Values that change per run come from the
// environment, set by scripts/deploy.sh (secrets never live in this file).
using '../main.bicep'

param environmentName = 'dev'
param secondaryLocation = 'japanwest'
param imageTag = readEnvironmentVariable('DURSOR_IMAGE_TAG', 'latest')
param deployStage = readEnvironmentVariable('DURSOR_DEPLOY_STAGE', 'apps')
param alertEmail = readEnvironmentVariable('DURSOR_ALERT_EMAIL', '')
param secretsOfficerPrincipalId = readEnvironmentVariable('DURSOR_SECRETS_OFFICER_ID', '')
param authAudience = readEnvironmentVariable('DURSOR_AUTH_AUDIENCE', 'api://dursor')
param seedSecrets = json(readEnvironmentVariable('DURSOR_SEED_SECRETS', '{}'))
// Development: agents run unjailed (the warning is in every run's log); see main.bicep.
param agentsRunUnjailed = true

// Seed: api 1-2 replicas, 0.25 vCPU / 512Mi.
param gatewayScale = {
  minReplicas: 1
  maxReplicas: 2
  cpu: '0.25'
  memory: '0.5Gi'
  concurrentRequests: 200
}
param runApiScale = {
  minReplicas: 1
  maxReplicas: 2
  cpu: '0.25'
  memory: '0.5Gi'
  concurrentRequests: 100
}
// Seed: worker 1-3 replicas, 0.5 vCPU / 1Gi.
param agentRunnerScale = {
  minReplicas: 1
  maxReplicas: 3
  cpu: '0.5'
  memory: '1Gi'
}
param agentRunnerSlots = 1
// B1ms allows 50 connections (35 for users) and Burstable has no PgBouncer: at most
// 8 replicas x (2 + 2 overflow) connections.
param databasePoolSize = 2
// Seed: web 1 replica, 0.25 vCPU (256Mi is below the Consumption 1:2 ratio, so 0.5Gi).
// The web UI is the seed's Web pool; auth gets the same size.
param webScale = {
  minReplicas: 1
  maxReplicas: 1
  cpu: '0.25'
  memory: '0.5Gi'
  concurrentRequests: 200
}
param authScale = {
  minReplicas: 1
  maxReplicas: 1
  cpu: '0.25'
  memory: '0.5Gi'
  concurrentRequests: 100
}

// Seed: Burstable B1ms, 32 GB, 7-day backups, no HA, no read replica.
param postgres = {
  skuName: 'Standard_B1ms'
  tier: 'Burstable'
  storageSizeGB: 32
  backupRetentionDays: 7
  geoRedundantBackup: false
  zoneRedundantHa: false
  readReplicaLocations: []
  maxConnections: 50
  version: '16'
}

// Seed: Basic C0 (250 MB), no clustering, no geo-replication. Azure Cache for Redis is
// retired in favour of Azure Managed Redis: its smallest SKU, one shard, no HA.
param redis = {
  skuName: 'Balanced_B0'
  clusteringPolicy: 'NoCluster'
  highAvailability: false
  geoReplication: false
}

param storageSku = 'Standard_LRS'
param registrySku = 'Basic'
// Basic firewall: FQDN allowlists at 250 Mbit/s, enough for a dev environment.
param firewallTier = 'Basic'
param zoneRedundant = false
param logRetentionDays = 30
