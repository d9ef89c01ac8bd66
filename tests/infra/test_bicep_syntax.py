"""Every Bicep and .bicepparam file parses; broken ones would not."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree_sitter import Tree

from .bicep_tree import parse_source, syntax_errors
from .conftest import bicep_files, bicepparam_files, relative

BROKEN_BICEP = {
    "unclosed object": "resource r 'Microsoft.App/jobs@2026-07-01' = {\n  name: 'x'\n",
    "missing value": "param p string = \n",
    "property without value": "var v = {\n  name:\n}\n",
    "unclosed string": "var v = 'abc\n",
    "missing module path": "module m = {\n  name: 'm'\n}\n",
}
BROKEN_BICEPPARAM = {
    "unclosed object": "using '../main.bicep'\nparam p = {\n  a: 1\n",
    "typed parameter (template syntax)": "using '../main.bicep'\nparam p string = 'a'\n",
    "missing value": "using '../main.bicep'\nparam p =\n",
}
VALID_BICEPPARAM = "using '../main.bicep'\nparam p = {\n  a: [\n    'x'\n  ]\n}\nparam q = 1\n"


def test_infra_has_templates_and_parameters() -> None:
    """The checks below run on real files, not on an empty directory."""
    names = {path.name for path in [*bicep_files(), *bicepparam_files()]}
    assert {"main.bicep", "dev.bicepparam", "prod.bicepparam"} <= names


@pytest.mark.parametrize("path", [*bicep_files(), *bicepparam_files()], ids=relative)
def test_file_parses_without_syntax_errors(path: Path, trees: dict[Path, Tree]) -> None:
    """tree-sitter-bicep finds no error or missing node in the file."""
    assert syntax_errors(trees[path]) == []


@pytest.mark.parametrize("source", BROKEN_BICEP.values(), ids=BROKEN_BICEP.keys())
def test_broken_bicep_is_reported(source: str) -> None:
    """The syntax check goes red on a broken template."""
    assert syntax_errors(parse_source(source.encode())) != []


@pytest.mark.parametrize("source", BROKEN_BICEPPARAM.values(), ids=BROKEN_BICEPPARAM.keys())
def test_broken_bicepparam_is_reported(source: str) -> None:
    """The syntax check goes red on a broken parameters file."""
    assert syntax_errors(parse_source(source.encode(), bicepparam=True)) != []


def test_valid_bicepparam_parses_clean() -> None:
    """Parameter assignments are understood, so a clean file is not a false alarm."""
    assert syntax_errors(parse_source(VALID_BICEPPARAM.encode(), bicepparam=True)) == []
