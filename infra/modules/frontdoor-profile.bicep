// Azure Front Door Premium: the only way in. Its profile id (`frontDoorId`, sent by Front
// Door as X-Azure-FDID) goes to the gateway, which refuses requests carrying another one;
// the origins (frontdoor.bicep) reach the internal Container Apps environment over
// Private Link, so nothing else on the internet can reach the apps at all. Premium is
// required for Private Link origins and for the managed WAF rule sets.
//
// Logs: access, health-probe and WAF logs go to Log Analytics. Query strings can carry a
// single-use stream `ticket` (EventSource cannot send headers); Front Door scrubs every
// query-string value from its access logs (the profile's scrubbing has no per-name rule),
// and the WAF scrubs `ticket`, `access_token` and `token` arguments, the Authorization
// header and cookies from its logs.

param namePrefix string
param tags object
param logAnalyticsWorkspaceId string
@description('Requests per minute one client IP may send before the WAF blocks it.')
@minValue(10)
param rateLimitPerMinute int = 600

var secretQueryArguments = [
  'ticket'
  'access_token'
  'token'
]

resource profile 'Microsoft.Cdn/profiles@2026-10-01' = {
  name: '${namePrefix}-afd'
  location: 'global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    // Front Door's maximum; the gateway's `: ping` every 15 s keeps SSE streams inside it.
    originResponseTimeoutSeconds: 240
    logScrubbing: {
      state: 'Enabled'
      scrubbingRules: [
        {
          matchVariable: 'QueryStringArgNames'
          selectorMatchOperator: 'EqualsAny'
          state: 'Enabled'
        }
      ]
    }
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2026-10-01' = {
  parent: profile
  name: '${namePrefix}-web'
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

resource wafPolicy 'Microsoft.Network/FrontDoorWebApplicationFirewallPolicies@2025-10-01' = {
  name: replace('${namePrefix}waf', '-', '')
  location: 'global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    policySettings: {
      enabledState: 'Enabled'
      mode: 'Prevention'
      requestBodyCheck: 'Enabled'
      logScrubbing: {
        state: 'Enabled'
        scrubbingRules: concat(map(secretQueryArguments, argument => {
          matchVariable: 'QueryStringArgNames'
          selectorMatchOperator: 'Equals'
          selector: argument
          state: 'Enabled'
        }), [
          {
            matchVariable: 'RequestHeaderNames'
            selectorMatchOperator: 'Equals'
            selector: 'Authorization'
            state: 'Enabled'
          }
          {
            matchVariable: 'RequestCookieNames'
            selectorMatchOperator: 'EqualsAny'
            state: 'Enabled'
          }
        ])
      }
    }
    customRules: {
      rules: [
        {
          // RequestUri is the whole URL (scheme and host included), so a path prefix
          // never matches it: the rule counts every request, per client address.
          name: 'RateLimitPerClientIp'
          priority: 100
          enabledState: 'Enabled'
          ruleType: 'RateLimitRule'
          rateLimitDurationInMinutes: 1
          rateLimitThreshold: rateLimitPerMinute
          groupBy: [
            {
              variableName: 'SocketAddr'
            }
          ]
          matchConditions: [
            {
              matchVariable: 'RequestUri'
              operator: 'Any'
              negateCondition: false
              matchValue: []
            }
          ]
          action: 'Block'
        }
      ]
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'Microsoft_DefaultRuleSet'
          ruleSetVersion: '2.1'
          ruleSetAction: 'Block'
        }
        {
          ruleSetType: 'Microsoft_BotManagerRuleSet'
          ruleSetVersion: '1.1'
        }
      ]
    }
  }
}

resource securityPolicy 'Microsoft.Cdn/profiles/securityPolicies@2026-10-01' = {
  parent: profile
  name: 'waf'
  properties: {
    parameters: {
      type: 'WebApplicationFirewall'
      wafPolicy: {
        id: wafPolicy.id
      }
      associations: [
        {
          domains: [
            {
              id: endpoint.id
            }
          ]
          patternsToMatch: [
            '/*'
          ]
        }
      ]
    }
  }
}

resource profileLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: profile
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
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output profileName string = profile.name
output endpointName string = endpoint.name
output endpointHostName string = endpoint.properties.hostName
@description('The X-Azure-FDID value Front Door sends; the gateway refuses any other.')
output frontDoorId string = profile.properties.frontDoorId
