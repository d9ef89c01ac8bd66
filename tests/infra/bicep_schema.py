"""Check the resources of Bicep templates against the REST shapes of the Azure SDK models.

Every property of a resource body must be a property the model names (not a read-only
one); numbers must lie in the ranges the model documents and strings in its enums. Values
are followed through variables, `concat`/`union`, conditionals, user-defined functions and
parameters: a parameter's declared `@minValue`/`@maxValue`/`@allowed` must fit the
property it reaches, and so must its default and every value a caller (a module call or a
.bicepparam file) passes for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node, Tree

from .azure_schema import Shape, fields, is_open, object_of, variants
from .bicep_tree import (
    body,
    declarations,
    declared_name,
    first_string,
    module_calls,
    properties,
    string_value,
    text,
    using_path,
    variables,
)
from .resource_models import ResourceModel

BICEP_KEYS = frozenset({"name", "parent", "scope", "dependsOn"})
_PASS_THROUGH = frozenset({"concat", "union", "shallowMerge"})


@dataclass(frozen=True)
class Finding:
    """One property that does not fit its model."""

    where: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where} {self.path}: {self.problem}"


@dataclass(frozen=True)
class _Value:
    """A value node and the file it is written in."""

    node: Node
    file: Path


class SchemaCheck:
    """Checks every resource of a set of parsed templates against its SDK model."""

    def __init__(self, trees: dict[Path, Tree], models: dict[str, ResourceModel]) -> None:
        self.trees = trees
        self.models = models
        self._callers = _callers_by_target(trees)
        self._seen: set[tuple[int, Path, str]] = set()
        self.checked_resources = 0
        self.checked_properties = 0

    def findings(self) -> list[Finding]:
        """Every property of every resource that does not fit its model, each once."""
        found: list[Finding] = []
        for path, tree in self.trees.items():
            for declaration in declarations(tree, "resource_declaration"):
                if not any(child.type == "existing" for child in declaration.children):
                    found += self._resource(path, declaration)
        return list(dict.fromkeys(found))

    def _resource(self, path: Path, declaration: Node) -> list[Finding]:
        resource_type = first_string(declaration).partition("@")[0]
        model = self.models.get(resource_type)
        if model is None:
            return []
        self._seen.clear()
        self.checked_resources += 1
        where = f"{path.name}:{declaration.start_point.row + 1} {declared_name(declaration)}"
        return list(
            self._object(_Value(body(declaration), path), object_of(model.load()), where, "")
        )

    def _check(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        node = value.node
        key = (node.id, value.file, path)
        if key in self._seen:
            return
        self._seen.add(key)
        handler = {
            "object": self._object,
            "array": self._array,
            "for_statement": self._for,
            "ternary_expression": self._branches,
            "parenthesized_expression": self._inner,
            "binary_expression": self._default_operand,
            "call_expression": self._call,
            "identifier": self._reference,
            "number": self._number,
            "string": self._string,
        }.get(node.type)
        if handler is not None:
            yield from handler(value, shape, where, path)

    def _object(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        if shape.kind == "map":
            for name, child in properties(value.node).items():
                yield from self._check(
                    _Value(child, value.file), shape.item or Shape("any"), where, f"{path}.{name}"
                )
            return
        if shape.kind != "object":
            if shape.kind != "any":
                yield Finding(where, path, f"an object where the model has a {shape.kind}")
            return
        known = self._object_fields(value, shape, where, path)
        if isinstance(known, Finding):
            yield known
            return
        for name, child in properties(value.node).items():
            if not path and name in BICEP_KEYS:
                continue
            yield from self._property(_Value(child, value.file), name, known, shape, where, path)

    def _property(
        self, value: _Value, name: str, known: dict[str, Shape], owner: Shape, where: str, path: str
    ) -> Iterator[Finding]:
        here = f"{path}.{name}" if path else name
        self.checked_properties += 1
        if name.startswith("${") or name not in known:
            if not name.startswith("${") and not is_open(owner):
                yield Finding(where, here, f"unknown property (the model has {sorted(known)})")
            return
        if known[name].readonly:
            yield Finding(where, here, "read-only property")
        yield from self._check(value, known[name], where, here)

    def _object_fields(
        self, value: _Value, shape: Shape, where: str, path: str
    ) -> dict[str, Shape] | Finding:
        polymorphic = variants(shape)
        if polymorphic is None:
            return fields(shape)
        discriminator, subclasses = polymorphic
        chosen = string_value(properties(value.node).get(discriminator))
        if chosen is None:
            merged: dict[str, Shape] = {}
            for subclass in subclasses.values():
                merged |= fields(object_of(subclass))
            return merged
        if chosen not in subclasses:
            known = sorted(subclasses)
            return Finding(
                where, f"{path}.{discriminator}", f"unknown kind {chosen!r} (the model has {known})"
            )
        return fields(object_of(subclasses[chosen]))

    def _array(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        if shape.kind != "array":
            if shape.kind != "any":
                yield Finding(where, path, f"an array where the model has a {shape.kind}")
            return
        for item in _array_items(value.node):
            yield from self._check(
                _Value(item, value.file), shape.item or Shape("any"), where, f"{path}[]"
            )

    def _for(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        if shape.kind == "array":
            item = _Value(value.node.named_children[-1], value.file)
            yield from self._check(item, shape.item or Shape("any"), where, f"{path}[]")

    def _branches(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        for branch in value.node.named_children[1:]:
            yield from self._check(_Value(branch, value.file), shape, where, path)

    def _inner(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        yield from self._check(
            _Value(value.node.named_children[-1], value.file), shape, where, path
        )

    def _default_operand(
        self, value: _Value, shape: Shape, where: str, path: str
    ) -> Iterator[Finding]:
        if any(child.type == "??" for child in value.node.children):
            yield from self._inner(value, shape, where, path)

    def _call(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        name, arguments = text(value.node.named_children[0]), value.node.named_children[-1]
        if name in _PASS_THROUGH:
            for argument in arguments.named_children:
                yield from self._check(_Value(argument, value.file), shape, where, path)
            return
        function = _user_function(self.trees[value.file], name)
        if function is not None:
            yield from self._check(_Value(function, value.file), shape, where, path)

    def _reference(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        name, tree = text(value.node), self.trees[value.file]
        if name in variables(tree):
            yield from self._check(_Value(variables(tree)[name], value.file), shape, where, path)
            return
        parameter = _parameter(tree, name)
        if parameter is None:
            return
        yield from _declared_bounds(parameter, shape, where, path)
        for passed in self._parameter_values(value.file, parameter):
            yield from self._check(passed, shape, where, path)

    def _parameter_values(self, file: Path, parameter: Node) -> Iterator[_Value]:
        """The parameter's default and every value a caller passes for it."""
        name = declared_name(parameter)
        if any(child.type == "=" for child in parameter.children):
            yield _Value(parameter.named_children[-1], file)
        for caller, passed in self._callers.get(file, []):
            if name in passed:
                yield _Value(passed[name], caller)

    def _number(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        number = float(text(value.node))
        if shape.kind == "scalar" and not _within(number, shape):
            yield Finding(where, path, f"{text(value.node)} outside {_range_text(shape)}")

    def _string(self, value: _Value, shape: Shape, where: str, path: str) -> Iterator[Finding]:
        literal = string_value(value.node)
        if literal is None or shape.kind != "scalar":
            return
        if shape.numeric:
            yield Finding(where, path, f"the string {literal!r} where the model has a number")
        elif shape.enum_values and literal.casefold() not in {
            v.casefold() for v in shape.enum_values
        }:
            yield Finding(where, path, f"{literal!r} is not one of {sorted(shape.enum_values)}")


def _callers_by_target(trees: dict[Path, Tree]) -> dict[Path, list[tuple[Path, dict[str, Node]]]]:
    """Template -> (calling file, params passed) of each module call and .bicepparam file."""
    callers: dict[Path, list[tuple[Path, dict[str, Node]]]] = {}
    for path, tree in trees.items():
        for call in module_calls(tree):
            target = (path.parent / call.path).resolve()
            callers.setdefault(target, []).append((path, call.params))
        template = using_path(tree)
        if template is not None:
            target = (path.parent / template).resolve()
            callers.setdefault(target, []).append((path, variables(tree)))
    return callers


def _array_items(array: Node) -> list[Node]:
    """Items of an array literal; `f(x)` on its own line parses as two items and is joined."""
    items = array.named_children
    joined: list[Node] = []
    for index, item in enumerate(items):
        follows_call = index > 0 and items[index - 1].type == "identifier"
        if item.type == "parenthesized_expression" and follows_call:
            continue
        joined.append(item)
    return joined


def _user_function(tree: Tree, name: str) -> Node | None:
    """The body expression of a `func` declared in the file."""
    for function in declarations(tree, "user_defined_function"):
        if declared_name(function) == name:
            return function.named_children[-1]
    return None


def _parameter(tree: Tree, name: str) -> Node | None:
    return next(
        (d for d in declarations(tree, "parameter_declaration") if declared_name(d) == name), None
    )


def decorator_arguments(declaration: Node) -> dict[str, Node]:
    """Decorator name -> its first argument, for the decorators above a declaration."""
    previous = declaration.prev_named_sibling
    if previous is None or previous.type != "decorators":
        return {}
    found = {}
    for decorator in previous.named_children:
        call = decorator.named_children[0] if decorator.named_children else None
        if call is not None and call.type == "call_expression":
            arguments = call.named_children[-1].named_children
            if arguments:
                found[text(call.named_children[0])] = arguments[0]
    return found


def _declared_bounds(parameter: Node, shape: Shape, where: str, path: str) -> Iterator[Finding]:
    """A parameter's @minValue/@maxValue/@allowed must fit the property it reaches."""
    if shape.kind != "scalar":
        return
    decorators = decorator_arguments(parameter)
    name = declared_name(parameter)
    low, high = decorators.get("minValue"), decorators.get("maxValue")
    if shape.minimum is not None and low is not None and float(text(low)) < shape.minimum:
        yield Finding(where, path, f"param {name} allows {text(low)}, below {_range_text(shape)}")
    if shape.maximum is not None and high is not None and float(text(high)) > shape.maximum:
        yield Finding(where, path, f"param {name} allows {text(high)}, above {_range_text(shape)}")
    allowed = decorators.get("allowed")
    if allowed is not None and shape.enum_values:
        values = {string_value(item) for item in allowed.named_children}
        known = {v.casefold() for v in shape.enum_values}
        unknown = sorted(v for v in values if v is not None and v.casefold() not in known)
        if unknown:
            yield Finding(
                where, path, f"param {name} allows {unknown}, not in {sorted(shape.enum_values)}"
            )


def _within(number: float, shape: Shape) -> bool:
    return (shape.minimum is None or number >= shape.minimum) and (
        shape.maximum is None or number <= shape.maximum
    )


def _range_text(shape: Shape) -> str:
    low = "-inf" if shape.minimum is None else f"{shape.minimum:g}"
    high = "inf" if shape.maximum is None else f"{shape.maximum:g}"
    return f"[{low}, {high}]"
