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
param postgresAdminPassword = readEnvironmentVariable('DURSOR_POSTGRES_ADMIN_PASSWORD', '')
param seedSecrets = json(readEnvironmentVariable('DURSOR_SEED_SECRETS', '{}'))

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
// Seed: web 1 replica, 0.25 vCPU (256Mi is below the Consumption 1:2 ratio, so 0.5Gi).
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

// Seed: Basic C0 (250 MB), no clustering, no geo-replication.
param redis = {
  skuName: 'Basic'
  family: 'C'
  capacity: 0
  shardCount: 0
  geoReplication: false
}

param storageSku = 'Standard_LRS'
param registrySku = 'Basic'
// Managed WAF rule sets need Premium; dev keeps Standard and the WAF's custom rules.
param frontDoorSku = 'Standard_AzureFrontDoor'
param zoneRedundant = false
param logRetentionDays = 30
