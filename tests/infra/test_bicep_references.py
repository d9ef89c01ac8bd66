"""Cross-references between templates: module paths and params, imports, parameter files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree_sitter import Tree

from .bicep_tree import (
    declarations,
    decorators_of,
    first_string,
    import_paths,
    module_calls,
    parameters,
    using_path,
    variables,
)
from .conftest import INFRA, bicep_files, bicepparam_files, relative

MICROSOFT_APP_API_VERSION = "2026-07-01"


def module_references(trees: dict[Path, Tree]) -> list[tuple[Path, str, Path]]:
    """(calling file, module symbol, resolved module path) of every module declaration."""
    return [
        (path, call.symbol, (path.parent / call.path).resolve())
        for path, tree in trees.items()
        for call in module_calls(tree)
    ]


def test_templates_declare_modules(trees: dict[Path, Tree]) -> None:
    """main.bicep composes the seed's modules, so the checks below have work to do."""
    called = {target.name for _, _, target in module_references(trees)}
    seed_modules = {"container-apps", "postgresql", "redis", "storage", "keyvault"}
    seed_modules |= {"frontdoor", "monitoring", "networking"}
    assert {f"{name}.bicep" for name in seed_modules} <= called


def test_every_module_path_exists(trees: dict[Path, Tree]) -> None:
    """A module declaration points at a template that is there."""
    missing = [
        f"{relative(path)}: module {symbol} -> {target}"
        for path, symbol, target in module_references(trees)
        if not target.is_file()
    ]
    assert missing == []


def test_module_calls_match_module_parameters(trees: dict[Path, Tree]) -> None:
    """Every param passed is declared by the module and every required one is passed."""
    problems = []
    for path, tree in trees.items():
        for call in module_calls(tree):
            declared = parameters(trees[(path.parent / call.path).resolve()])
            unknown = set(call.params) - set(declared)
            missing = {name for name, p in declared.items() if p.required} - set(call.params)
            if unknown or missing:
                problems.append(
                    f"{relative(path)} {call.symbol}: unknown {unknown}, missing {missing}"
                )
    assert problems == []


@pytest.mark.parametrize("path", bicep_files(), ids=relative)
def test_imports_resolve_to_exported_types(path: Path, trees: dict[Path, Tree]) -> None:
    """`import ... from` names a file that exists and exports types."""
    for imported in import_paths(trees[path]):
        source = (path.parent / imported).resolve()
        assert source.is_file(), f"{relative(path)} imports missing {imported}"
        types = declarations(trees[source], "type_declaration")
        assert types, f"{imported} declares no types"
        assert all("export" in decorators_of(t) for t in types), f"{imported}: unexported type"


@pytest.mark.parametrize("path", bicepparam_files(), ids=relative)
def test_parameters_file_uses_main_template(path: Path, trees: dict[Path, Tree]) -> None:
    """Both environments deploy infra/main.bicep."""
    target = using_path(trees[path])
    assert target is not None, "no `using` statement"
    assert (path.parent / target).resolve() == INFRA / "main.bicep"


@pytest.mark.parametrize("path", bicepparam_files(), ids=relative)
def test_parameters_file_sets_declared_and_required_parameters(
    path: Path, trees: dict[Path, Tree]
) -> None:
    """No assignment to an unknown parameter, no required parameter left out."""
    declared = parameters(trees[INFRA / "main.bicep"])
    assigned = set(variables(trees[path]))
    assert assigned - set(declared) == set()
    assert {name for name, p in declared.items() if p.required} - assigned == set()


def test_microsoft_app_resources_use_one_current_api_version(trees: dict[Path, Tree]) -> None:
    """Container Apps, jobs, environments, Dapr components and resiliency share one version."""
    types = {
        first_string(decl)
        for tree in trees.values()
        for decl in declarations(tree, "resource_declaration")
        if first_string(decl).startswith("Microsoft.App/")
    }
    assert len(types) >= 5, types
    assert {t.partition("@")[2] for t in types} == {MICROSOFT_APP_API_VERSION}, types
