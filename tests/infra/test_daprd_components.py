"""The daprd the bootstrap built registers every component type a component file names.

tools/daprd registers a chosen set of components instead of Dapr's whole stable set. The
types are read from the files that name them (components/, the directories
docker-compose.yml mounts into its daprd containers, the Container Apps components in
infra/) and the built binary is asked through its registries
(`daprd --check-component-types`), so a new component type in any of them fails here
until tools/daprd/components.go registers it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tree_sitter import Node, Tree

from tests.support.platform import daprd_binary

from .bicep_tree import parse_source, prop, resolve, resources, string_value, text
from .conftest import REPO, bicep_files, yaml_documents

ACA_COMPONENT = "Microsoft.App/managedEnvironments/daprComponents"


def typed(component_type: str, version: Any) -> str:
    """`type/version` as daprd's check takes it (just `type` without a version)."""
    return f"{component_type}/{version}" if version else component_type


def types_of_document(doc: dict[str, Any]) -> set[str]:
    """Types a Dapr resource names: a Component's own, a Configuration's resolver and middleware."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Component":
        return {typed(spec["type"], spec.get("version"))}
    if doc.get("kind") != "Configuration":
        return set()
    found = set()
    resolver = spec.get("nameResolution")
    if resolver:
        found.add(typed(f"nameresolution.{resolver['component']}", resolver.get("version")))
    for pipeline in ("httpPipeline", "appHttpPipeline"):
        for handler in (spec.get(pipeline) or {}).get("handlers", []):
            found.add(typed(handler["type"], handler.get("version")))
    return found


def yaml_types(directory: Path) -> set[str]:
    """Component types named by the YAML files of a directory and its subdirectories."""
    files = [*directory.rglob("*.yaml"), *directory.rglob("*.yml")]
    return {t for path in files for doc in yaml_documents(path) for t in types_of_document(doc)}


def compose_resource_dirs() -> list[Path]:
    """Repository directories docker-compose.yml mounts into containers running daprd."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    dirs = []
    for service in compose["services"].values():
        if "daprd" not in str(service.get("image", "")):
            continue
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                dirs.append((REPO / source).resolve())
    return dirs


def literal_strings(node: Node, tree: Tree) -> list[str] | None:
    """The values an expression can take: a literal, a variable of one, or a `? :` of them."""
    node = resolve(node, tree)
    if node.type == "ternary_expression":
        branches = [literal_strings(branch, tree) for branch in node.named_children[1:]]
        return None if None in branches else [v for b in branches for v in b or []]
    value = string_value(node)
    return None if value is None else [value]


def bicep_types(trees: dict[Path, Tree]) -> tuple[set[str], list[str]]:
    """Component types of every Container Apps Dapr component, and any that are not literal."""
    found: set[str] = set()
    unreadable = []
    for path, tree in trees.items():
        for component in resources(tree, ACA_COMPONENT):
            type_node = prop(component.body, "properties", "componentType")
            version_node = prop(component.body, "properties", "version")
            types = literal_strings(type_node, tree) if type_node is not None else None
            version = string_value(version_node) if version_node is not None else None
            if types is None:
                unreadable.append(
                    f"{path.name}: {component.symbol}: {text(type_node or component.body)[:60]}"
                )
                continue
            found |= {typed(t, version) for t in types}
    return found, unreadable


def ask_daprd(types: list[str]) -> tuple[dict[str, str], int]:
    """What the built daprd's registries answer for each type, and its exit status."""
    binary = daprd_binary()
    result = subprocess.run(
        [str(binary), "--check-component-types", *types],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    answers = [line.rsplit(" ", 1) for line in result.stdout.splitlines()]
    # A daprd not built from tools/daprd has no such flag: it fails to parse its flags.
    answered = bool(answers) and all(a[-1] in ("registered", "missing") for a in answers)
    assert answered, (
        f"{binary} did not answer --check-component-types (not tools/daprd's build?): "
        f"{result.stdout[-500:]}{result.stderr[-500:]}"
    )
    return dict(answers), result.returncode


def unregistered(named: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each type the built daprd cannot create, with the sources that name it."""
    wanted = sorted(set().union(*named.values()))
    verdicts, status = ask_daprd(wanted)
    assert set(verdicts) == set(wanted), verdicts
    missing = {
        t: sorted(source for source, types in named.items() if t in types)
        for t, verdict in verdicts.items()
        if verdict != "registered"
    }
    assert (status == 0) == (not missing), (status, verdicts)
    return missing


@pytest.fixture(scope="module")
def named_types(trees: dict[Path, Tree]) -> dict[str, set[str]]:
    """Component types by where they are named."""
    bicep, unreadable = bicep_types({p: t for p, t in trees.items() if p.suffix == ".bicep"})
    assert not unreadable, f"componentType must be a literal (or `? :` of literals): {unreadable}"
    compose = set().union(*(yaml_types(d) for d in compose_resource_dirs()))
    return {
        "components/": yaml_types(REPO / "components"),
        "docker-compose": compose,
        "infra/": bicep,
    }


def test_every_source_names_component_types(named_types: dict[str, set[str]]) -> None:
    """Each source was read: pub/sub and a secret store everywhere, name resolution locally."""
    for source, types in named_types.items():
        families = {t.split(".", 1)[0] for t in types}
        assert {"pubsub", "secretstores"} <= families, (source, types)
    assert any(t.startswith("nameresolution.") for t in named_types["components/"])
    assert any(t.startswith("nameresolution.") for t in named_types["docker-compose"])
    assert bicep_files(), "no Bicep templates found"


def test_daprd_registers_every_named_type(named_types: dict[str, set[str]]) -> None:
    """The built daprd can create every type any component file names."""
    missing = unregistered(named_types)
    assert not missing, f"daprd lacks {missing}: register them in tools/daprd/components.go"


PLANTED_BICEP = """
resource env 'Microsoft.App/managedEnvironments@2025-01-01' existing = {
  name: 'env'
}
var blobBinding = 'bindings.azure.blobstorage'
resource artifacts 'Microsoft.App/managedEnvironments/daprComponents@2025-01-01' = {
  parent: env
  name: 'artifacts'
  properties: {
    componentType: blobBinding
    version: 'v1'
  }
}
"""


def test_a_file_naming_an_unregistered_type_fails(
    tmp_path: Path, named_types: dict[str, set[str]]
) -> None:
    """The same reading and check catch types planted in YAML and Bicep that daprd lacks."""
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "queue.yaml").write_text(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: queue\n"
        "spec:\n  type: pubsub.kafka\n  version: v1\n"
    )
    (tmp_path / "config.yaml").write_text(
        "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: c\n"
        "spec:\n  nameResolution:\n    component: mdns\n"
    )
    bicep, unreadable = bicep_types(
        {tmp_path / "artifacts.bicep": parse_source(PLANTED_BICEP.encode())}
    )
    assert not unreadable
    planted = {**named_types, "planted YAML": yaml_types(tmp_path), "planted Bicep": bicep}
    assert unregistered(planted) == {
        "pubsub.kafka/v1": ["planted YAML"],
        "nameresolution.mdns": ["planted YAML"],
        "bindings.azure.blobstorage/v1": ["planted Bicep"],
    }


def test_the_check_reports_what_daprd_lacks() -> None:
    """The check answers from the registries: a stable Dapr component left out is missing."""
    verdicts, status = ask_daprd(["pubsub.kafka", "state.redis", "state.postgresql/v1"])
    assert verdicts == {
        "pubsub.kafka": "missing",
        "state.redis": "registered",
        "state.postgresql/v1": "missing",
    }
    assert status == 1


@pytest.mark.timeout(900)
def test_daprd_entry_point_carries_every_flag() -> None:
    """tools/daprd's own entry point hands every daprd flag to the runtime (its Go tests)."""
    # -trimpath as the bootstrap builds, so the packages it compiled are reused.
    result = subprocess.run(
        ["go", "test", "-trimpath", "./..."],
        cwd=REPO / "tools" / "daprd",
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
