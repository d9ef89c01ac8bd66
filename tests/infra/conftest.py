"""Paths and parsed files the infra tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tree_sitter import Tree

from .bicep_tree import parse_file

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MODULES = INFRA / "modules"


def bicep_files() -> list[Path]:
    """Every Bicep template under infra/."""
    return sorted(INFRA.rglob("*.bicep"))


def bicepparam_files() -> list[Path]:
    """Every parameters file under infra/."""
    return sorted(INFRA.rglob("*.bicepparam"))


def relative(path: Path) -> str:
    """A path as the test ids show it."""
    return str(path.relative_to(REPO))


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def dapr_documents(kind: str) -> list[dict[str, Any]]:
    """Dapr resources of one kind (Component, Resiliency, ...) in components/."""
    docs = (
        doc for path in sorted((REPO / "components").glob("*.yaml")) for doc in yaml_documents(path)
    )
    return [doc for doc in docs if doc.get("kind") == kind]


def dapr_apps() -> dict[str, int]:
    """App id -> app port of every service in dapr.yaml."""
    run_file = yaml_documents(REPO / "dapr.yaml")[0]
    return {app["appID"]: int(app["appPort"]) for app in run_file["apps"]}


@pytest.fixture(scope="session")
def trees() -> dict[Path, Tree]:
    """Syntax tree of every .bicep and .bicepparam file, parsed once."""
    return {path: parse_file(path) for path in [*bicep_files(), *bicepparam_files()]}


@pytest.fixture(scope="session")
def template(trees: dict[Path, Tree]) -> dict[str, Tree]:
    """Syntax tree by name: modules, `main` (infra/main.bicep), `dev` and `prod` (parameters)."""
    named = {path.stem: tree for path, tree in trees.items() if path.parent == MODULES}
    named["main"] = trees[INFRA / "main.bicep"]
    named |= {path.stem: tree for path, tree in trees.items() if path.suffix == ".bicepparam"}
    return named
