"""Request bodies made from an OpenAPI document: minimal ones, and ones with a poisoned field.

Tests walk every operation a service documents; these build, for each string field of
a body (inside nested objects, arrays and every alternative of a union), a body whose
other fields are minimal and whose one field holds the given text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]


def resolved(schema: Schema, spec: Schema) -> Schema:
    """A schema with its `$ref` followed."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def variants(schema: Schema, spec: Schema) -> list[Schema]:
    """The alternatives of a union (without `null`), or the schema itself, resolved."""
    schema = resolved(schema, spec)
    options = schema.get("oneOf") or schema.get("anyOf") or [schema]
    return [resolved(o, spec) for o in options if o.get("type") != "null"]


def _scalar(schema: Schema) -> Any:
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "x" * max(schema.get("minLength", 1), 1)


def minimal(schema: Schema, spec: Schema) -> Any:
    """A small value of the schema (required fields only, first alternative)."""
    schema = variants(schema, spec)[0]
    if "const" in schema or "enum" in schema:
        return schema.get("const", (schema.get("enum") or [None])[0])
    if schema.get("type") == "object":
        properties = schema.get("properties", {})
        return {k: minimal(properties[k], spec) for k in schema.get("required", [])}
    if schema.get("type") == "array":
        return [minimal(schema["items"], spec)] * max(schema.get("minItems", 0), 1)
    return _scalar(schema)


def poisoned(schema: Schema, spec: Schema, text: str, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted field path, value) for each string field of the schema, set to `text`."""
    for variant in variants(schema, spec):
        if variant.get("type") == "string":
            yield path, text
        elif variant.get("type") == "object":
            base = minimal(variant, spec)
            for name, field in variant.get("properties", {}).items():
                where = f"{path}.{name}" if path else name
                for found, value in poisoned(field, spec, text, where):
                    yield found, base | {name: value}
        elif variant.get("type") == "array":
            item = f"{path}.0" if path else "0"
            yield from ((p, [v]) for p, v in poisoned(variant["items"], spec, text, item))
