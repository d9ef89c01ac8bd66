"""agent-runner scales on the work waiting for it: runs queued or running in PostgreSQL."""

from __future__ import annotations

import re

import pytest
from tree_sitter import Node, Tree

from .bicep_tree import module_calls, prop, properties, resolve, string_value, text, variables

ENVIRONMENTS = {"dev": (1, 3), "prod": (1, 20)}


def queued_runs_rule(template: dict[str, Tree]) -> Node:
    """The custom scale rule agent-runner's module call passes."""
    tree = template["container-apps"]
    calls = {c.symbol: c for c in module_calls(tree)}
    rules = calls["agentRunner"].params["scaleRules"]
    (rule,) = rules.named_children
    return resolve(rule, tree)


def keda_query(template: dict[str, Tree]) -> str:
    """The SQL the KEDA postgresql scaler runs."""
    query = string_value(prop(queued_runs_rule(template), "custom", "metadata", "query"))
    assert query is not None
    return query.replace("\\'", "'")


def test_rule_is_keda_postgresql_on_the_runs_table(template: dict[str, Tree]) -> None:
    """Not Redis pending entries (acked at once): the count of queued and running runs."""
    custom = prop(queued_runs_rule(template), "custom")
    assert custom is not None
    assert string_value(prop(custom, "type")) == "postgresql"
    assert re.fullmatch(
        r"SELECT count\(\*\) FROM runs WHERE status IN \('queued', 'running'\)",
        keda_query(template),
    )


def test_target_is_the_slots_of_one_replica(template: dict[str, Tree]) -> None:
    """Replicas wanted = ceil(count / DURSOR_MAX_CONCURRENCY)."""
    metadata = prop(queued_runs_rule(template), "custom", "metadata")
    assert metadata is not None
    assert text(prop(metadata, "targetQueryValue") or metadata) == "string(agentRunnerSlots)"
    runner = {c.symbol: c for c in module_calls(template["container-apps"])}["agentRunner"]
    assert re.search(
        r"name: 'DURSOR_MAX_CONCURRENCY'\s+value: string\(agentRunnerSlots\)",
        text(runner.params["env"]),
    )


def test_scaler_signs_in_as_agent_runner_with_entra(template: dict[str, Tree]) -> None:
    """No password: KEDA uses agent-runner's managed identity and its database login."""
    custom = prop(queued_runs_rule(template), "custom")
    assert custom is not None
    assert text(prop(custom, "identity") or custom) == "identityOf['agent-runner'].id"
    metadata = prop(custom, "metadata")
    assert metadata is not None
    assert text(prop(metadata, "userName") or metadata) == "identityOf['agent-runner'].name"
    assert "auth" not in properties(custom)
    assert "password" not in properties(metadata)


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_replicas_follow_the_seed(environment: str, template: dict[str, Tree]) -> None:
    """Worker pool: 1-3 in dev, 1-20 in prod (the seed's table)."""
    tree = template[environment]
    scale = resolve(variables(tree)["agentRunnerScale"], tree)
    bounds = (text(prop(scale, "minReplicas") or scale), text(prop(scale, "maxReplicas") or scale))
    assert tuple(int(b) for b in bounds) == ENVIRONMENTS[environment]
