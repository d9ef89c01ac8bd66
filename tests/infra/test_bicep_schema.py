"""Offline schema check: every resource of infra/ against the Azure SDK model of its type.

The Bicep compiler is not obtainable here (NuGet), so the management SDKs from PyPI stand
in for the resource schemas: property names, read-only fields, enums and documented ranges
(tests/infra/azure_schema.py, bicep_schema.py). The check passes on infra/ and must fail on
copies with the errors it exists to catch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tree_sitter import Tree

from .bicep_schema import Finding, SchemaCheck
from .bicep_tree import declarations, first_string, parse_file
from .conftest import INFRA, relative
from .resource_models import RESOURCE_MODELS

# (file, text, replacement, what the finding must say): each one an error a deployment hits.
MUTATIONS = {
    "startup probe failureThreshold 30 (the schema allows 1-10)": (
        "modules/container-app.bicep",
        "periodSeconds: 6\n              failureThreshold: 10",
        "periodSeconds: 2\n              failureThreshold: 30",
        "probes[].failureThreshold: 30 outside [1, 10]",
    ),
    "misspelt property": (
        "modules/container-app.bicep",
        "targetPort: appPort",
        "targetport: appPort",
        "ingress.targetport: unknown property",
    ),
    "misspelt nested property in a variable": (
        "modules/dapr-components.bicep",
        "maxIntervalInMilliseconds: 8000",
        "maxIntervalInMiliseconds: 8000",
        "retryBackOff.maxIntervalInMiliseconds: unknown property",
    ),
    "idle timeout parameter allowing 1-3 (the schema allows 4-30)": (
        "modules/container-environment.bicep",
        "@minValue(4)\n@maxValue(30)\nparam premiumIngressIdleTimeoutMinutes",
        "@minValue(1)\n@maxValue(3)\nparam premiumIngressIdleTimeoutMinutes",
        "requestIdleTimeout: param premiumIngressIdleTimeoutMinutes allows 1, below [4, 30]",
    ),
    "value outside an enum": (
        "modules/frontdoor.bicep",
        "operator: 'EndsWith'",
        "operator: 'EndWith'",
        "'EndWith' is not one of",
    ),
    "read-only property set": (
        "modules/frontdoor-profile.bicep",
        "originResponseTimeoutSeconds: 240",
        "originResponseTimeoutSeconds: 240\n    frontDoorId: 'x'",
        "properties.frontDoorId: read-only property",
    ),
    "unknown kind of a polymorphic object": (
        "modules/egress.bicep",
        "ruleType: 'NetworkRule'",
        "ruleType: 'NetworkRules'",
        "ruleType: unknown kind 'NetworkRules'",
    ),
    "property misspelt inside a user-defined function": (
        "modules/egress.bicep",
        "  targetFqdns: fqdns",
        "  targetFqdn: fqdns",
        "rules[].targetFqdn: unknown property",
    ),
    "out-of-range value passed by a module caller": (
        "main.bicep",
        "premiumIngressIdleTimeoutMinutes: premiumIngressIdleTimeoutMinutes",
        "premiumIngressIdleTimeoutMinutes: 3",
        "requestIdleTimeout: 3 outside [4, 30]",
    ),
    "out-of-range value in a parameters file": (
        "parameters/prod.bicepparam",
        "param zoneRedundant = true",
        "param zoneRedundant = true\nparam premiumIngressIdleTimeoutMinutes = 2",
        "requestIdleTimeout: 2 outside [4, 30]",
    ),
}


def trees_of(root: Path) -> dict[Path, Tree]:
    """Every .bicep and .bicepparam file under `root`, parsed."""
    paths = sorted([*root.rglob("*.bicep"), *root.rglob("*.bicepparam")])
    return {path.resolve(): parse_file(path) for path in paths}


def findings_in(root: Path) -> list[Finding]:
    """What the schema check reports for the templates under `root`."""
    return SchemaCheck(trees_of(root), RESOURCE_MODELS).findings()


def declared_types(trees: dict[Path, Tree]) -> dict[str, set[str]]:
    """Resource type -> API versions declared (existing references included)."""
    found: dict[str, set[str]] = {}
    for tree in trees.values():
        for declaration in declarations(tree, "resource_declaration"):
            resource_type, _, version = first_string(declaration).partition("@")
            found.setdefault(resource_type, set()).add(version)
    return found


def test_every_resource_type_has_an_sdk_model(trees: dict[Path, Tree]) -> None:
    """No resource escapes the check for want of a model."""
    assert set(declared_types(trees)) - set(RESOURCE_MODELS) == set()


def test_api_versions_are_those_of_the_models(trees: dict[Path, Tree]) -> None:
    """The properties checked are those of the API version deployed."""
    mismatched = {
        rtype: versions
        for rtype, versions in declared_types(trees).items()
        if versions != {RESOURCE_MODELS[rtype].api_version}
    }
    assert mismatched == {}


@pytest.mark.parametrize("resource_type", sorted(RESOURCE_MODELS))
def test_model_table_names_the_sdks_api_version(resource_type: str) -> None:
    """Each model comes from the SDK build of the API version the table states."""
    model = RESOURCE_MODELS[resource_type]
    assert model.load().__name__ == model.name
    assert model.sdk_api_version() == model.api_version


def test_infra_fits_the_sdk_models() -> None:
    """No unknown or read-only property, no value outside its documented range or enum."""
    assert [str(f) for f in findings_in(INFRA)] == []


def test_check_covers_every_resource(trees: dict[Path, Tree]) -> None:
    """Every declared resource body is walked (the clean result above is not vacuous)."""
    check = SchemaCheck(trees, RESOURCE_MODELS)
    check.findings()
    declared = sum(
        1
        for tree in trees.values()
        for d in declarations(tree, "resource_declaration")
        if not any(child.type == "existing" for child in d.children)
    )
    assert check.checked_resources == declared
    assert declared > 60
    assert check.checked_properties > 600


@pytest.mark.parametrize("mutation", sorted(MUTATIONS), ids=str)
def test_check_finds_an_error_in_a_copy(mutation: str, tmp_path: Path) -> None:
    """A copy of infra/ with one error reintroduced fails, naming the property."""
    file, old, new, expected = MUTATIONS[mutation]
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    source = (copy / file).read_text()
    assert source.count(old) == 1, f"{relative(INFRA / file)} no longer contains {old!r}"
    (copy / file).write_text(source.replace(old, new))
    reported = [str(f) for f in findings_in(copy)]
    assert any(expected in line for line in reported), reported
