// Front Door routes on the profile of frontdoor-profile.bicep, to origins reached over
// Private Link (a Front Door managed private endpoint to the internal Container Apps
// environment; scripts/deploy.sh approves the connection):
//   /v1/*, /openapi.json, /docs -> events-gateway, never cached or compressed (SSE as
//                            the gateway writes it; `sse` rule set below);
//   /assets/*             -> web, cached at the edge for a year (file names carry a content
//                            hash) and compressed;
//   /*                    -> web, not cached; paths without a file extension are served
//                            /index.html (`spa` rule set: client-side routes on reload).
// Front Door path patterns allow a wildcard only at the end, so `/v1/*/stream` cannot be a
// route of its own: the `sse` rule set matches paths ending in /stream.

param profileName string
param endpointName string
@description('Container Apps environment the origins sit in (the Private Link target).')
param environmentId string
param environmentLocation string
@description('Host name of events-gateway inside the environment.')
param gatewayFqdn string
@description('Host name of the web app inside the environment.')
param webFqdn string

resource profile 'Microsoft.Cdn/profiles@2026-10-01' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2026-10-01' existing = {
  parent: profile
  name: endpointName
}

var privateLink = {
  privateLink: {
    id: environmentId
  }
  groupId: 'managedEnvironments'
  privateLinkLocation: environmentLocation
  requestMessage: 'Front Door ${profileName}'
}

var loadBalancing = {
  sampleSize: 4
  successfulSamplesRequired: 3
  additionalLatencyInMilliseconds: 50
}

resource gatewayOrigins 'Microsoft.Cdn/profiles/originGroups@2026-10-01' = {
  parent: profile
  name: 'events-gateway'
  properties: {
    loadBalancingSettings: loadBalancing
    healthProbeSettings: {
      probePath: '/healthz'
      probeRequestType: 'GET'
      probeProtocol: 'Https'
      probeIntervalInSeconds: 30
    }
    sessionAffinityState: 'Disabled'
  }
}

resource gatewayOrigin 'Microsoft.Cdn/profiles/originGroups/origins@2026-10-01' = {
  parent: gatewayOrigins
  name: 'events-gateway'
  properties: {
    hostName: gatewayFqdn
    originHostHeader: gatewayFqdn
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
    sharedPrivateLinkResource: privateLink
  }
}

resource webOrigins 'Microsoft.Cdn/profiles/originGroups@2026-10-01' = {
  parent: profile
  name: 'web'
  properties: {
    loadBalancingSettings: loadBalancing
    healthProbeSettings: {
      probePath: '/'
      probeRequestType: 'HEAD'
      probeProtocol: 'Https'
      probeIntervalInSeconds: 60
    }
    sessionAffinityState: 'Disabled'
  }
}

resource webOrigin 'Microsoft.Cdn/profiles/originGroups/origins@2026-10-01' = {
  parent: webOrigins
  name: 'web'
  properties: {
    hostName: webFqdn
    originHostHeader: webFqdn
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
    sharedPrivateLinkResource: privateLink
  }
}

resource sseRules 'Microsoft.Cdn/profiles/ruleSets@2026-10-01' = {
  parent: profile
  name: 'sse'
}

resource streamsUntransformed 'Microsoft.Cdn/profiles/ruleSets/rules@2026-10-01' = {
  parent: sseRules
  name: 'streamsUntransformed'
  properties: {
    order: 1
    matchProcessingBehavior: 'Continue'
    conditions: [
      {
        name: 'UrlPath'
        parameters: {
          typeName: 'DeliveryRuleUrlPathMatchConditionParameters'
          operator: 'EndsWith'
          negateCondition: false
          matchValues: [
            '/stream'
          ]
          transforms: [
            'Lowercase'
          ]
        }
      }
    ]
    actions: [
      {
        name: 'ModifyResponseHeader'
        parameters: {
          typeName: 'DeliveryRuleHeaderActionParameters'
          headerAction: 'Overwrite'
          headerName: 'Cache-Control'
          value: 'no-cache, no-transform'
        }
      }
    ]
  }
}

resource spaRules 'Microsoft.Cdn/profiles/ruleSets@2026-10-01' = {
  parent: profile
  name: 'spa'
}

resource clientRoutes 'Microsoft.Cdn/profiles/ruleSets/rules@2026-10-01' = {
  parent: spaRules
  name: 'clientRoutesServeIndex'
  properties: {
    order: 1
    matchProcessingBehavior: 'Stop'
    conditions: [
      {
        // No file extension: a client-side route such as /tasks/42.
        name: 'UrlFileExtension'
        parameters: {
          typeName: 'DeliveryRuleUrlFileExtensionMatchConditionParameters'
          operator: 'Any'
          negateCondition: true
          matchValues: []
          transforms: []
        }
      }
    ]
    actions: [
      {
        name: 'UrlRewrite'
        parameters: {
          typeName: 'DeliveryRuleUrlRewriteActionParameters'
          sourcePattern: '/'
          destination: '/index.html'
          preserveUnmatchedPath: false
        }
      }
    ]
  }
}

resource assetRules 'Microsoft.Cdn/profiles/ruleSets@2026-10-01' = {
  parent: profile
  name: 'hashedAssets'
}

resource assetsCachedForAYear 'Microsoft.Cdn/profiles/ruleSets/rules@2026-10-01' = {
  parent: assetRules
  name: 'cacheForAYear'
  properties: {
    order: 1
    matchProcessingBehavior: 'Continue'
    conditions: []
    actions: [
      {
        name: 'RouteConfigurationOverride'
        parameters: {
          typeName: 'DeliveryRuleRouteConfigurationOverrideActionParameters'
          cacheConfiguration: {
            queryStringCachingBehavior: 'IgnoreQueryString'
            isCompressionEnabled: 'Enabled'
            cacheBehavior: 'OverrideAlways'
            cacheDuration: '365.00:00:00'
          }
        }
      }
    ]
  }
}

resource apiRoute 'Microsoft.Cdn/profiles/afdEndpoints/routes@2026-10-01' = {
  parent: endpoint
  name: 'api'
  properties: {
    originGroup: {
      id: gatewayOrigins.id
    }
    ruleSets: [
      {
        id: sseRules.id
      }
    ]
    patternsToMatch: [
      '/v1/*'
      '/openapi.json'
      '/docs'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
    // No cacheConfiguration: no caching and no compression, so SSE is never buffered.
  }
  dependsOn: [
    gatewayOrigin
    streamsUntransformed
  ]
}

resource assetsRoute 'Microsoft.Cdn/profiles/afdEndpoints/routes@2026-10-01' = {
  parent: endpoint
  name: 'assets'
  properties: {
    originGroup: {
      id: webOrigins.id
    }
    ruleSets: [
      {
        id: assetRules.id
      }
    ]
    patternsToMatch: [
      '/assets/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
    cacheConfiguration: {
      queryStringCachingBehavior: 'IgnoreQueryString'
      compressionSettings: {
        isCompressionEnabled: true
        contentTypesToCompress: [
          'application/javascript'
          'text/javascript'
          'text/css'
          'image/svg+xml'
          'application/json'
          'font/ttf'
        ]
      }
    }
  }
  dependsOn: [
    webOrigin
    assetsCachedForAYear
    apiRoute
  ]
}

resource webRoute 'Microsoft.Cdn/profiles/afdEndpoints/routes@2026-10-01' = {
  parent: endpoint
  name: 'web'
  properties: {
    originGroup: {
      id: webOrigins.id
    }
    ruleSets: [
      {
        id: spaRules.id
      }
    ]
    patternsToMatch: [
      '/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
    // No cacheConfiguration: index.html is always fresh, so a release shows at once.
  }
  dependsOn: [
    webOrigin
    clientRoutes
    assetsRoute
  ]
}
