// The seed's alert thresholds (section 9, 主要メトリクス), each as a warning (Sev 2) and
// a critical (Sev 1) alert to one action group:
//   API error rate        > 1 %   / > 5 %     log alert on AppRequests (5xx share)
//   API P95 latency       > 2 s   / > 5 s     log alert on AppRequests (SSE excluded)
//   worker queue depth    > 50    / > 200     log alert on the dursor.runs.queued gauge
//   DB connections        > 80 %  / > 95 %    metric alert, active_connections vs max_connections
//   Redis memory          > 70 %  / > 90 %    metric alert, usedmemorypercentage
//   agent run time        > 30 min / > 60 min log alert on the dursor.run.duration histogram
// Percentiles and ratios are not Azure Monitor platform metrics, hence the log alerts.

param namePrefix string
param location string
param tags object
param logAnalyticsWorkspaceId string
param postgresServerId string
param postgresMaxConnections int
param redisCacheId string
@description('Who receives the alerts; empty creates the action group without receivers.')
param alertEmail string = ''

var thresholds = {
  apiErrorRatePercent: {
    warning: 1
    critical: 5
  }
  apiP95LatencyMs: {
    warning: 2000
    critical: 5000
  }
  workerQueueDepth: {
    warning: 50
    critical: 200
  }
  databaseConnectionsPercent: {
    warning: 80
    critical: 95
  }
  redisMemoryPercent: {
    warning: 70
    critical: 90
  }
  agentRunMinutes: {
    warning: 30
    critical: 60
  }
}

var levels = [
  {
    name: 'warning'
    severity: 2
  }
  {
    name: 'critical'
    severity: 1
  }
]

var apiApps = '\'events-gateway\', \'run-api\', \'auth\''

var logAlerts = [
  {
    name: 'api-error-rate'
    description: 'Share of API requests answered with a 5xx, in percent.'
    thresholds: thresholds.apiErrorRatePercent
    column: 'errorRate'
    query: 'AppRequests | where AppRoleName in (${apiApps}) | summarize total = count(), failed = countif(toint(ResultCode) >= 500) | extend errorRate = iff(total == 0, 0.0, 100.0 * failed / total) | project errorRate'
  }
  {
    name: 'api-p95-latency'
    description: 'P95 duration of API requests in ms; SSE streams are long by design and excluded.'
    thresholds: thresholds.apiP95LatencyMs
    column: 'p95'
    query: 'AppRequests | where AppRoleName in (${apiApps}) and not(Name endswith \'/stream\') | summarize p95 = percentile(DurationMs, 95)'
  }
  {
    name: 'worker-queue-depth'
    description: 'Runs waiting for an agent-runner slot (gauge dursor.runs.queued).'
    thresholds: thresholds.workerQueueDepth
    column: 'depth'
    query: 'AppMetrics | where Name == \'dursor.runs.queued\' | summarize depth = max(Max)'
  }
  {
    name: 'agent-run-duration'
    description: 'Longest agent run in minutes (histogram dursor.run.duration, seconds).'
    thresholds: thresholds.agentRunMinutes
    column: 'minutes'
    query: 'AppMetrics | where Name == \'dursor.run.duration\' | summarize minutes = max(Max) / 60.0'
  }
]

var metricAlerts = [
  {
    name: 'database-connections'
    description: 'Active PostgreSQL connections as a share of max_connections.'
    scope: postgresServerId
    namespace: 'Microsoft.DBforPostgreSQL/flexibleServers'
    metric: 'active_connections'
    warning: postgresMaxConnections * thresholds.databaseConnectionsPercent.warning / 100
    critical: postgresMaxConnections * thresholds.databaseConnectionsPercent.critical / 100
  }
  {
    name: 'redis-memory'
    description: 'Redis used memory in percent.'
    scope: redisCacheId
    namespace: 'Microsoft.Cache/redisEnterprise'
    metric: 'usedmemorypercentage'
    warning: thresholds.redisMemoryPercent.warning
    critical: thresholds.redisMemoryPercent.critical
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'dursor'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource queryAlerts 'Microsoft.Insights/scheduledQueryRules@2022-08-01-preview' = [for pair in flatten(map(logAlerts, alert => map(levels, level => {
  alert: alert
  level: level
}))): {
  name: '${namePrefix}-${pair.alert.name}-${pair.level.name}'
  location: location
  tags: tags
  properties: {
    displayName: '${pair.alert.name} (${pair.level.name})'
    description: pair.alert.description
    severity: pair.level.severity
    enabled: true
    scopes: [
      logAnalyticsWorkspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: pair.alert.query
          timeAggregation: 'Maximum'
          metricMeasureColumn: pair.alert.column
          operator: 'GreaterThan'
          threshold: pair.alert.thresholds[pair.level.name]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

resource platformAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for pair in flatten(map(metricAlerts, alert => map(levels, level => {
  alert: alert
  level: level
}))): {
  name: '${namePrefix}-${pair.alert.name}-${pair.level.name}'
  location: 'global'
  tags: tags
  properties: {
    description: pair.alert.description
    severity: pair.level.severity
    enabled: true
    scopes: [
      pair.alert.scope
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: pair.alert.metric
          metricNamespace: pair.alert.namespace
          metricName: pair.alert.metric
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: pair.alert[pair.level.name]
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}]
