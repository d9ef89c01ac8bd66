"""Read Bicep and .bicepparam files with tree-sitter-bicep: syntax errors and the few facts
the infra tests cross-check (modules, resources, parameters, variables, literals)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser, Tree

# The grammar knows Bicep, not the .bicepparam assignment `param name = value`. That
# assignment has the expression syntax of `var name = value`, so it is parsed as one;
# the keyword is padded to the same width so error positions stay right.
_PARAM_ASSIGNMENT = re.compile(rb"(?m)^param(?=\s+\w+\s*=)")
_WRAPPERS = ("for_statement", "if_statement")


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


def parse_source(source: bytes, *, bicepparam: bool = False) -> Tree:
    """Syntax tree of Bicep source, or of .bicepparam source when `bicepparam` is set."""
    if bicepparam:
        source = _PARAM_ASSIGNMENT.sub(b"var  ", source)
    return _parser().parse(source)


def parse_file(path: Path) -> Tree:
    """Syntax tree of a .bicep or .bicepparam file."""
    return parse_source(path.read_bytes(), bicepparam=path.suffix == ".bicepparam")


def syntax_errors(tree: Tree) -> list[str]:
    """`line:column: text` of every error or missing node; empty when the file is valid."""
    found = [node for node in walk(tree.root_node) if node.is_error or node.is_missing]
    if using_path(tree) is not None:
        # A .bicepparam file assigns parameters; a typed `param` declaration is template syntax.
        found += declarations(tree, "parameter_declaration")
    return [f"{n.start_point.row + 1}:{n.start_point.column + 1}: {text(n)[:60]!r}" for n in found]


def walk(node: Node) -> Iterator[Node]:
    """`node` and all its descendants, depth first."""
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    """Source text of a node."""
    return (node.text or b"").decode()


def declarations(tree: Tree, kind: str) -> list[Node]:
    """Top-level declarations of one kind, e.g. `module_declaration`."""
    return [node for node in tree.root_node.named_children if node.type == kind]


def declared_name(declaration: Node) -> str:
    """The identifier a declaration introduces."""
    identifier = next(c for c in declaration.named_children if c.type == "identifier")
    return text(identifier)


def string_value(node: Node | None) -> str | None:
    """Value of a string literal without interpolation, else None."""
    if node is None or node.type != "string":
        return None
    if any(child.type == "interpolation" for child in node.named_children):
        return None
    return "".join(text(c) for c in node.named_children if c.type != "interpolation")


def string_fragments(node: Node) -> list[str]:
    """Literal pieces of a (possibly interpolated) string."""
    return [text(c) for c in node.named_children if c.type in ("string_content", "escape_sequence")]


def first_string(declaration: Node) -> str:
    """The first string literal of a declaration: a module path or a resource type."""
    value = string_value(next(c for c in declaration.named_children if c.type == "string"))
    assert value is not None, f"not a literal: {text(declaration)[:80]}"
    return value


def body(declaration: Node) -> Node:
    """The object literal of a resource or module, through any `for` and `if`."""
    node = declaration.named_children[-1]
    while node.type in _WRAPPERS:
        node = node.named_children[-1]
    assert node.type == "object", f"no object body: {text(declaration)[:80]}"
    return node


def properties(obj: Node) -> dict[str, Node]:
    """Property name -> value node of an object literal."""
    found: dict[str, Node] = {}
    for prop in obj.named_children:
        if prop.type != "object_property":
            continue
        key, value = prop.named_children[0], prop.named_children[-1]
        found[string_value(key) or text(key)] = value
    return found


def prop(obj: Node, *path: str) -> Node | None:
    """The value at a property path of nested object literals, or None."""
    node: Node | None = obj
    for name in path:
        if node is None or node.type != "object":
            return None
        node = properties(node).get(name)
    return node


def string_list(node: Node | None) -> list[str] | None:
    """Values of an array of string literals, or None if it is something else."""
    if node is None or node.type != "array":
        return None
    values = [string_value(item) for item in node.named_children]
    return None if None in values else [v for v in values if v is not None]


def decorators_of(declaration: Node) -> list[str]:
    """Names of the decorators written right above a declaration."""
    previous = declaration.prev_named_sibling
    if previous is None or previous.type != "decorators":
        return []
    calls = (d.named_children[0] for d in previous.named_children if d.named_children)
    return [text(c.named_children[0]) for c in calls if c.type == "call_expression"]


@dataclass(frozen=True)
class Parameter:
    """A `param` declaration of a template."""

    name: str
    type: str
    required: bool
    secure: bool


def parameters(tree: Tree) -> dict[str, Parameter]:
    """The template's parameters by name."""
    found = {}
    for decl in declarations(tree, "parameter_declaration"):
        has_default = any(child.type == "=" for child in decl.children)
        nullable = any(node.type == "nullable_type" for node in walk(decl))
        declared_type = next((text(c) for c in decl.named_children if c.type == "type"), "")
        name = declared_name(decl)
        secure = "secure" in decorators_of(decl)
        found[name] = Parameter(name, declared_type, not (has_default or nullable), secure)
    return found


def variables(tree: Tree) -> dict[str, Node]:
    """Value of each `var` (in a .bicepparam file: of each parameter assignment)."""
    return {
        declared_name(d): d.named_children[-1] for d in declarations(tree, "variable_declaration")
    }


def resolve(node: Node, tree: Tree) -> Node:
    """Follow a bare variable reference to the variable's value."""
    if node.type == "identifier":
        return variables(tree).get(text(node), node)
    return node


@dataclass(frozen=True)
class Resource:
    """A `resource` declaration: symbolic name, type, API version and body."""

    symbol: str
    type: str
    api_version: str
    body: Node


def resources(tree: Tree, resource_type: str) -> list[Resource]:
    """Resources of one type, e.g. `Microsoft.App/containerApps` (`existing` ones excluded)."""
    found = []
    for decl in declarations(tree, "resource_declaration"):
        if any(child.type == "existing" for child in decl.children):
            continue
        declared_type, _, version = first_string(decl).partition("@")
        if declared_type == resource_type:
            found.append(Resource(declared_name(decl), declared_type, version, body(decl)))
    return found


@dataclass(frozen=True)
class ModuleCall:
    """A `module` declaration: symbolic name, path and the params it passes."""

    symbol: str
    path: str
    params: dict[str, Node]


def module_calls(tree: Tree) -> list[ModuleCall]:
    """Every module declaration of a file."""
    found = []
    for decl in declarations(tree, "module_declaration"):
        params = prop(body(decl), "params")
        passed = properties(params) if params is not None else {}
        found.append(ModuleCall(declared_name(decl), first_string(decl), passed))
    return found


def import_paths(tree: Tree) -> list[str]:
    """Paths of compile-time `import ... from '<path>'` statements."""
    imports = [n for n in tree.root_node.named_children if n.type == "import_functionality"]
    return [first_string(n) for n in imports]


def using_path(tree: Tree) -> str | None:
    """The template a .bicepparam file applies to."""
    for node in tree.root_node.named_children:
        if node.type == "using_statement":
            return first_string(node)
    return None
