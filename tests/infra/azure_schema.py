"""The REST shape of Azure resources as the management SDKs on PyPI describe it.

Two generations of generated models exist: msrest models (`_attribute_map` with REST keys,
`properties.x` for flattened ones, `_validation` with read-only flags and ranges) and
TypeSpec models (`rest_field(name=...)` with visibility, type annotations). Both carry
their documented ranges and enum types in the class docstring (`:ivar x: ... Minimum value
is 1. Maximum value is 10.`, `:vartype x: str or ~pkg.models.Enum`). `fields()` reads
either into one form: REST property name -> `Shape`.
"""

from __future__ import annotations

import enum
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal

Kind = Literal["object", "array", "map", "scalar", "any"]

_SCALAR_TYPES = {"str", "int", "long", "float", "bool", "iso-8601", "rfc-1123", "duration"}
_SCALAR_TYPES |= {"date", "time", "bytearray", "base64", "unix-time", "decimal"}
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_RANGE_PATTERNS = (
    (re.compile(rf"Minimum value is {_NUMBER}"), "min"),
    (re.compile(rf"Maximum value is {_NUMBER}"), "max"),
    (re.compile(rf"[Mm]ust be at least {_NUMBER}"), "min"),
    (re.compile(rf"[Mm]ust be at most {_NUMBER}"), "max"),
    (re.compile(rf"[Mm]ust be between {_NUMBER} and {_NUMBER}"), "between"),
)
_IVAR = re.compile(r":ivar (\w+):(.*?)(?=:ivar |:vartype |\Z)", re.DOTALL)
_VARTYPE = re.compile(r":vartype (\w+):(.*?)(?=:ivar |:vartype |\Z)", re.DOTALL)
_ENUM_REFERENCE = re.compile(r"~[\w.]+\.(\w+)")


@dataclass(frozen=True)
class Shape:
    """What the JSON value of one property may be, per the SDK model."""

    kind: Kind
    model: type | None = None
    nested: tuple[tuple[str, Shape], ...] | None = None
    item: Shape | None = None
    enum_values: frozenset[str] = frozenset()
    minimum: float | None = None
    maximum: float | None = None
    readonly: bool = False
    numeric: bool = False


@dataclass(frozen=True)
class ModelFacts:
    """Docstring facts of one model class: ranges and enum classes per attribute."""

    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    enums: dict[str, frozenset[str]] = field(default_factory=dict)


ANY = Shape("any")


def fields(shape: Shape) -> dict[str, Shape]:
    """REST property name -> shape of an object shape (a model or a flattened group)."""
    if shape.nested is not None:
        return dict(shape.nested)
    if shape.model is None:
        return {}
    return model_fields(shape.model)


def object_of(model: type) -> Shape:
    """The shape of a JSON object of one model class."""
    return Shape("object", model=model)


def _attribute_map(model: type) -> dict[str, dict[str, str]]:
    """An msrest model's Python attribute -> {key: REST path, type: msrest type}."""
    found: dict[str, dict[str, str]] = getattr(model, "_attribute_map", {})
    return found


def is_open(shape: Shape) -> bool:
    """True when the object accepts properties the model does not name."""
    model = shape.model
    return model is not None and "" in {spec.get("key") for spec in _attribute_map(model).values()}


def variants(shape: Shape) -> tuple[str, dict[str, type]] | None:
    """(REST name of the discriminator, value -> subclass) of a polymorphic model."""
    model = shape.model
    if model is None:
        return None
    subtypes = getattr(model, "_subtype_map", None)
    if subtypes:
        attribute, mapping = next(iter(subtypes.items()))
        rest_name = _attribute_map(model)[attribute]["key"]
        module = sys.modules[model.__module__]
        return rest_name.replace("\\.", "."), {
            value: getattr(module, name) for value, name in mapping.items()
        }
    mapping = model.__dict__.get("__mapping__")
    if mapping:
        discriminator = next(
            v for v in _rest_fields(model).values() if getattr(v, "_is_discriminator", False)
        )
        return discriminator._rest_name_input, dict(mapping)
    return None


@cache
def model_fields(model: type) -> dict[str, Shape]:
    """REST property name -> shape for every property of a model class."""
    if hasattr(model, "_attribute_map"):
        return _msrest_fields(model)
    return _typespec_fields(model)


@cache
def model_facts(model: type) -> ModelFacts:
    """Ranges and enum values a model's docstrings state, by Python attribute name."""
    docs = "".join(klass.__doc__ or "" for klass in reversed(model.__mro__))
    module = sys.modules[model.__module__]
    facts = ModelFacts()
    for name, text in _IVAR.findall(docs):
        low, high = _range_in(" ".join(text.split()))
        if low is not None or high is not None:
            facts.ranges[name] = (low, high)
    for name, text in _VARTYPE.findall(docs):
        values = _enum_values(module, _ENUM_REFERENCE.findall(text))
        if values:
            facts.enums[name] = values
    return facts


def _range_in(text: str) -> tuple[float | None, float | None]:
    low: float | None = None
    high: float | None = None
    for pattern, bound in _RANGE_PATTERNS:
        for match in pattern.finditer(text):
            if bound in ("min", "between"):
                low = float(match[1])
            if bound == "max":
                high = float(match[1])
            if bound == "between":
                high = float(match[2])
    return low, high


def _enum_values(module: types.ModuleType, names: list[str]) -> frozenset[str]:
    package = sys.modules[module.__name__.rpartition(".")[0]]
    for name in names:
        candidate = getattr(module, name, None) or getattr(package, name, None)
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return frozenset(str(member.value) for member in candidate)
    return frozenset()


def _with_facts(shape: Shape, model: type, attribute: str, readonly: bool) -> Shape:
    facts = model_facts(model)
    low, high = facts.ranges.get(attribute, (None, None))
    enum_values = facts.enums.get(attribute, shape.enum_values) if shape.kind == "scalar" else None
    return replace(
        shape,
        minimum=low,
        maximum=high,
        readonly=readonly,
        enum_values=enum_values or frozenset(),
    )


def _nest(flat: Mapping[str, Shape]) -> dict[str, Shape]:
    """`{'properties.a': s}` -> `{'properties': object{a: s}}` (msrest client flattening)."""
    top: dict[str, Shape] = {}
    groups: dict[str, dict[str, Shape]] = {}
    for key, shape in flat.items():
        head, dot, rest = key.partition(".")
        if dot:
            groups.setdefault(head, {})[rest] = shape
        else:
            top[key] = shape
    for head, members in groups.items():
        top[head] = Shape("object", nested=tuple(_nest(members).items()))
    return top


def _msrest_fields(model: type) -> dict[str, Shape]:
    validation = getattr(model, "_validation", {})
    module = sys.modules[model.__module__]
    flat: dict[str, Shape] = {}
    for attribute, spec in _attribute_map(model).items():
        if not spec["key"]:
            continue  # additional_properties: see is_open()
        rules = validation.get(attribute, {})
        shape = _with_facts(_msrest_shape(spec["type"], module), model, attribute, False)
        low = rules.get("minimum", rules.get("minimum_ex", shape.minimum))
        high = rules.get("maximum", rules.get("maximum_ex", shape.maximum))
        readonly = bool(rules.get("readonly"))
        flat[spec["key"].replace("\\.", "\x00")] = replace(
            shape, minimum=low, maximum=high, readonly=readonly
        )
    nested = _nest(flat)
    return {key.replace("\x00", "."): shape for key, shape in nested.items()}


def _msrest_shape(type_name: str, module: types.ModuleType) -> Shape:
    if type_name.startswith("[") and type_name.endswith("]"):
        return Shape("array", item=_msrest_shape(type_name[1:-1], module))
    if type_name.startswith("{") and type_name.endswith("}"):
        return Shape("map", item=_msrest_shape(type_name[1:-1], module))
    if type_name in _SCALAR_TYPES:
        return Shape("scalar", numeric=type_name in ("int", "long", "float", "decimal"))
    model = getattr(module, type_name, None)
    if isinstance(model, type) and hasattr(model, "_attribute_map"):
        return object_of(model)
    if isinstance(model, type) and issubclass(model, enum.Enum):
        return Shape("scalar", enum_values=frozenset(str(m.value) for m in model))
    return ANY


def _rest_fields(model: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for klass in reversed(model.__mro__):
        for name, value in vars(klass).items():
            if hasattr(value, "_rest_name_input") and not name.startswith("_"):
                found[name] = value
    return found


def _typespec_fields(model: type) -> dict[str, Shape]:
    module = sys.modules[model.__module__]
    package = sys.modules[module.__name__.rpartition(".")[0]]
    hints = typing.get_type_hints(model, vars(module), {"_models": package})
    result = {}
    for attribute, rest_field in _rest_fields(model).items():
        readonly = rest_field._visibility == ["read"]
        shape = _annotation_shape(hints.get(attribute, Any))
        rest_name = rest_field._rest_name_input or attribute
        result[rest_name] = _with_facts(shape, model, attribute, readonly)
    return result


def _annotation_shape(annotation: Any) -> Shape:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return _union_shape([a for a in args if a is not type(None)])
    if origin is Literal:
        return Shape("scalar", enum_values=frozenset(str(getattr(a, "value", a)) for a in args))
    if origin is list:
        return Shape("array", item=_annotation_shape(args[0]))
    if origin is dict:
        return Shape("map", item=_annotation_shape(args[1]))
    if isinstance(annotation, type):
        return _class_shape(annotation)
    return ANY


def _union_shape(members: list[Any]) -> Shape:
    if len(members) == 1:
        return _annotation_shape(members[0])
    enums = [m for m in members if isinstance(m, type) and issubclass(m, enum.Enum)]
    if enums and all(m is str or m in enums for m in members):
        return Shape("scalar", enum_values=frozenset(str(v.value) for e in enums for v in e))
    return ANY


def _class_shape(annotation: type) -> Shape:
    if issubclass(annotation, enum.Enum):
        return Shape("scalar", enum_values=frozenset(str(m.value) for m in annotation))
    if annotation in (int, float):
        return Shape("scalar", numeric=True)
    if annotation.__module__ in ("builtins", "datetime", "decimal"):
        return Shape("scalar")
    if _rest_fields(annotation) or hasattr(annotation, "__mapping__"):
        return object_of(annotation)
    return ANY
