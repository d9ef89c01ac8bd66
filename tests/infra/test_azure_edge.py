"""How traffic reaches the apps in Azure: only through Front Door, over Private Link.

The environment is internal with public network access off, every Front Door origin is a
Private Link origin to it, the gateway checks Front Door's id, the WAF's rate limit can
match, and neither Front Door's access logs nor its WAF logs keep a stream ticket.
"""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from .bicep_tree import (
    Resource,
    module_calls,
    prop,
    properties,
    resolve,
    resources,
    string_list,
    string_value,
    text,
    variables,
)

CDN = "Microsoft.Cdn/profiles"
WAF = "Microsoft.Network/FrontDoorWebApplicationFirewallPolicies"


def one(tree: Tree, resource_type: str) -> Resource:
    """The single resource of a type in a template."""
    (found,) = resources(tree, resource_type)
    return found


def literal(node: Node | None) -> str | None:
    """A string literal's value, else None."""
    return string_value(node)


def test_environment_is_internal_without_public_access(template: dict[str, Tree]) -> None:
    """No public address: the environment's load balancer is internal and public access off."""
    env = one(template["container-environment"], "Microsoft.App/managedEnvironments").body
    assert text(prop(env, "properties", "vnetConfiguration", "internal") or env) == "true"
    assert literal(prop(env, "properties", "publicNetworkAccess")) == "Disabled"


def test_every_origin_is_a_private_link_to_the_environment(template: dict[str, Tree]) -> None:
    """Front Door reaches both origins through a managed private endpoint to the environment."""
    tree = template["frontdoor"]
    link = variables(tree)["privateLink"]
    assert text(prop(link, "privateLink", "id") or link) == "environmentId"
    assert literal(prop(link, "groupId")) == "managedEnvironments"
    origins = resources(tree, f"{CDN}/originGroups/origins")
    assert {o.symbol for o in origins} == {"gatewayOrigin", "webOrigin"}
    for origin in origins:
        shared = prop(origin.body, "properties", "sharedPrivateLinkResource")
        assert shared is not None, origin.symbol
        assert text(shared) == "privateLink", origin.symbol
    main = {c.symbol: c for c in module_calls(template["main"])}
    assert text(main["frontDoor"].params["environmentId"]) == "containerEnvironment.outputs.id"


def test_private_link_needs_and_gets_premium(template: dict[str, Tree]) -> None:
    """Private Link origins and managed WAF rules exist only on Front Door Premium."""
    tree = template["frontdoor-profile"]
    profile = one(tree, CDN).body
    waf = one(tree, WAF).body
    assert literal(prop(profile, "sku", "name")) == "Premium_AzureFrontDoor"
    assert literal(prop(waf, "sku", "name")) == "Premium_AzureFrontDoor"


def test_gateway_refuses_requests_that_bypassed_front_door(template: dict[str, Tree]) -> None:
    """DURSOR_FRONT_DOOR_ID is the profile's frontDoorId, the X-Azure-FDID Front Door sends."""
    apps = {c.symbol: c for c in module_calls(template["container-apps"])}
    env = text(apps["eventsGateway"].params["env"])
    assert re.search(r"name: 'DURSOR_FRONT_DOOR_ID'\s+value: frontDoorId", env)
    assert re.search(
        r"name: 'DURSOR_TRUSTED_PROXIES'\s+value: string\(\[\s*appsSubnetPrefix\s*\]\)", env
    )
    main = {c.symbol: c for c in module_calls(template["main"])}
    assert text(main["containerApps"].params["frontDoorId"]) == (
        "frontDoorProfile.outputs.frontDoorId"
    )
    outputs = text(template["frontdoor-profile"].root_node)
    assert "output frontDoorId string = profile.properties.frontDoorId" in outputs


def rate_limit_rule(template: dict[str, Tree]) -> Node:
    """The WAF's per-client-address rate limit rule."""
    waf = one(template["frontdoor-profile"], WAF).body
    rules = prop(waf, "properties", "customRules", "rules")
    assert rules is not None
    (rule,) = [r for r in rules.named_children if literal(prop(r, "ruleType")) == "RateLimitRule"]
    return rule


def test_rate_limit_rule_can_match(template: dict[str, Tree]) -> None:
    """RequestUri is the full URL, so `BeginsWith '/'` never matched; the rule matches any URL."""
    rule = rate_limit_rule(template)
    (condition,) = (prop(rule, "matchConditions") or rule).named_children
    assert literal(prop(condition, "matchVariable")) == "RequestUri"
    assert literal(prop(condition, "operator")) == "Any"
    groups = text(prop(rule, "groupBy") or rule)
    assert "'SocketAddr'" in groups


def test_access_logs_keep_no_query_string_values(template: dict[str, Tree]) -> None:
    """Front Door scrubs every query-string value (a `ticket` included) from its access logs."""
    profile = one(template["frontdoor-profile"], CDN).body
    scrubbing = prop(profile, "properties", "logScrubbing")
    assert scrubbing is not None
    assert literal(prop(scrubbing, "state")) == "Enabled"
    rules = [
        {k: literal(v) for k, v in properties(rule).items()}
        for rule in (prop(scrubbing, "scrubbingRules") or scrubbing).named_children
    ]
    assert {
        "matchVariable": "QueryStringArgNames",
        "selectorMatchOperator": "EqualsAny",
        "state": "Enabled",
    } in rules


def test_waf_logs_keep_no_ticket_token_or_authorization(template: dict[str, Tree]) -> None:
    """The WAF log scrubs `ticket`, `access_token`, `token`, the Authorization header, cookies."""
    tree = template["frontdoor-profile"]
    assert set(string_list(variables(tree)["secretQueryArguments"]) or []) == {
        "ticket",
        "access_token",
        "token",
    }
    waf = one(tree, WAF).body
    scrubbing = prop(waf, "properties", "policySettings", "logScrubbing")
    assert scrubbing is not None
    assert literal(prop(scrubbing, "state")) == "Enabled"
    rules = text(prop(scrubbing, "scrubbingRules") or scrubbing)
    assert "map(secretQueryArguments" in rules
    assert re.search(
        r"matchVariable: 'QueryStringArgNames'\s+selectorMatchOperator: 'Equals'", rules
    )
    assert re.search(
        r"'RequestHeaderNames'\s+selectorMatchOperator: 'Equals'\s+selector: 'Authorization'", rules
    )
    assert "'RequestCookieNames'" in rules


def routes(template: dict[str, Tree]) -> dict[str, Node]:
    """Route name -> properties of each Front Door route."""
    found = {}
    for route in resources(template["frontdoor"], f"{CDN}/afdEndpoints/routes"):
        name, settings = literal(prop(route.body, "name")), prop(route.body, "properties")
        assert name is not None
        assert settings is not None
        found[name] = settings
    return found


def test_routes_send_the_api_to_the_gateway_and_the_rest_to_the_web_ui(
    template: dict[str, Tree],
) -> None:
    """`/v1/*` to the gateway uncached; hashed assets cached; everything else the SPA."""
    found = routes(template)
    assert set(found) == {"api", "assets", "web"}
    assert "/v1/*" in (string_list(prop(found["api"], "patternsToMatch")) or [])
    assert string_list(prop(found["assets"], "patternsToMatch")) == ["/assets/*"]
    assert string_list(prop(found["web"], "patternsToMatch")) == ["/*"]
    origin = {name: text(prop(r, "originGroup", "id") or r) for name, r in found.items()}
    assert origin == {
        "api": "gatewayOrigins.id",
        "assets": "webOrigins.id",
        "web": "webOrigins.id",
    }
    assert prop(found["api"], "cacheConfiguration") is None
    assert prop(found["web"], "cacheConfiguration") is None
    assert prop(found["assets"], "cacheConfiguration") is not None


def test_client_routes_fall_back_to_index_html(template: dict[str, Tree]) -> None:
    """A reload on /tasks/42 (no file extension) serves the SPA's index.html."""
    tree = template["frontdoor"]
    (rule,) = [
        r
        for r in resources(tree, f"{CDN}/ruleSets/rules")
        if text(prop(r.body, "parent") or r.body) == "spaRules"
    ]
    (condition,) = (prop(rule.body, "properties", "conditions") or rule.body).named_children
    assert literal(prop(condition, "name")) == "UrlFileExtension"
    assert text(prop(condition, "parameters", "negateCondition") or condition) == "true"
    (action,) = (prop(rule.body, "properties", "actions") or rule.body).named_children
    assert literal(prop(action, "name")) == "UrlRewrite"
    assert literal(prop(action, "parameters", "destination")) == "/index.html"
    spa_route = routes(template)["web"]
    assert "spaRules.id" in text(prop(spa_route, "ruleSets") or spa_route)


def test_web_ui_is_its_own_app_scaled_on_http(template: dict[str, Tree]) -> None:
    """The seed's Web pool: 2-5 replicas in prod, an HTTP scale rule, static files on 8080."""
    apps = {c.symbol: c for c in module_calls(template["container-apps"])}
    web = apps["web"].params
    assert text(web["appPort"]) == "8080"
    assert text(web["scaleRules"]).split()[1].startswith("httpScaleRule(")
    prod = variables(template["prod"])["webScale"]
    scale = {k: text(v) for k, v in properties(resolve(prod, template["prod"])).items()}
    assert (scale["minReplicas"], scale["maxReplicas"]) == ("2", "5")
