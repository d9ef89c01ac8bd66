"""The public operations the gateway forwards: a fixed table, matched segment by segment.

Each entry is one operation of run-api's or auth's committed OpenAPI document
(`events_gateway/upstream/*.json`): method + path template -> app id + the same path on
that app. A request is matched only after `request_target` has refused every unclean
path; its path parameters must be what the document declares (UUIDs, or variable names
such as a repository secret's), and the URL the
sidecar is asked for is rebuilt from the template and the parsed values, never from the
request's path. Anything the table does not hold is a 404 before any sidecar call.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dursor_contracts.environment import NAME_PATTERN
from dursor_contracts.problems import InvalidParam
from dursor_kit.errors import ProblemError

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC_PREFIX = "/v1/"
LITERAL_SEGMENT = re.compile(r"[a-z0-9][a-z0-9-]*")
PARAMETER_SEGMENT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
UUID_TEXT = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
CANONICAL_UUID = re.compile(UUID_TEXT)
# The one other kind of path parameter: a variable name (letters, digits, `_`), which is
# always a plain segment. A document declares it with exactly this pattern.
NAME_SCHEMA_PATTERN = f"^{NAME_PATTERN.pattern}$"


class RouteTableError(ValueError):
    """A document declares an operation the gateway cannot forward safely."""


@dataclass(frozen=True)
class Operation:
    """One forwarded operation: who serves it and what it may carry."""

    method: str
    template: str
    app_id: str
    # No bearer token is checked at the edge (the service decides: e.g. the password flow).
    public: bool
    query: frozenset[str]
    # Path parameters declared as variable names rather than UUIDs.
    names: frozenset[str] = frozenset()

    @cached_property
    def segments(self) -> tuple[str, ...]:
        """The template's segments: literals, or `{name}` for a UUID parameter."""
        return tuple(self.template.strip("/").split("/"))

    @cached_property
    def literal_segments(self) -> tuple[tuple[int, str], ...]:
        """(position, text) of every literal segment, worked out once."""
        return tuple((i, s) for i, s in enumerate(self.segments) if _parameter_name(s) is None)

    def fits(self, segments: tuple[str, ...]) -> bool:
        """True when `segments` has this template's shape (literals equal, one per parameter)."""
        return len(self.segments) == len(segments) and all(
            segments[i] == literal for i, literal in self.literal_segments
        )

    @cached_property
    def literals(self) -> int:
        """How many segments are literal: the more specific template wins."""
        return len(self.literal_segments)

    def parameters(self, segments: tuple[str, ...]) -> dict[str, uuid.UUID | str]:
        """The parsed parameters of a path that fits (422 when one is not what it should be)."""
        return {
            name: _parse_name(name, actual) if name in self.names else _parse_uuid(name, actual)
            for pattern, actual in zip(self.segments, segments, strict=True)
            if (name := _parameter_name(pattern)) is not None
        }


@dataclass(frozen=True)
class Match:
    """A request matched to its operation, with validated parameters."""

    operation: Operation
    parameters: Mapping[str, uuid.UUID | str]

    def upstream_path(self) -> str:
        """The path on the target app, rebuilt from the template and the parsed UUIDs."""
        parts = []
        for pattern in self.operation.segments:
            name = _parameter_name(pattern)
            parts.append(str(self.parameters[name]) if name is not None else pattern)
        return "/" + "/".join(parts)


class RouteTable:
    """Every forwarded operation, looked up by method and clean path segments."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations = tuple(sorted(operations, key=lambda o: (o.template, o.method)))
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for operation in self.operations:
            shape = (operation.method, _shape(operation.segments))
            if shape in seen:
                raise RouteTableError(f"two operations share {operation.method} {shape[1]}")
            seen.add(shape)
        # Only templates with as many segments as the request can fit it.
        self._by_length: dict[int, list[Operation]] = {}
        for operation in self.operations:
            self._by_length.setdefault(len(operation.segments), []).append(operation)

    @classmethod
    def from_documents(cls, documents: Mapping[str, Mapping[str, Any]]) -> RouteTable:
        """The table of every `/v1/` operation of each app's OpenAPI document."""
        return cls(
            operation
            for app_id, document in documents.items()
            for operation in operations_of(app_id, document)
        )

    def match(self, method: str, segments: tuple[str, ...]) -> Match | None:
        """The operation for this method and path, None if no template has this shape.

        A path some template has but not for this method is a 405; a parameter that is
        not a UUID is a 422.
        """
        fitting = [o for o in self._by_length.get(len(segments), ()) if o.fits(segments)]
        if not fitting:
            return None
        mine = [o for o in fitting if o.method == method]
        if not mine:
            raise ProblemError(
                405,
                "method-not-allowed",
                "Method Not Allowed",
                f"{method} is not an operation of this resource",
                headers={"Allow": ", ".join(sorted({o.method for o in fitting}))},
            )
        operation = max(mine, key=lambda o: o.literals)
        return Match(operation, operation.parameters(segments))

    def templates(self) -> set[tuple[str, str]]:
        """(method, template) of every operation."""
        return {(o.method, o.template) for o in self.operations}


def operations_of(app_id: str, document: Mapping[str, Any]) -> list[Operation]:
    """The forwardable operations of one app's document (its `/v1/` paths)."""
    found = []
    for template, item in document.get("paths", {}).items():
        if not template.startswith(PUBLIC_PREFIX):
            continue
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                raise RouteTableError(f"{app_id}: unsupported method {method} on {template}")
            found.append(_operation(app_id, template, method.upper(), operation))
    return found


def _operation(app_id: str, template: str, method: str, spec: Mapping[str, Any]) -> Operation:
    parameters = spec.get("parameters", [])
    declared = {p["name"] for p in parameters if p["in"] == "path"}
    in_template = {n for s in template.split("/") if (n := _parameter_name(s)) is not None}
    if declared != in_template:
        raise RouteTableError(f"{app_id}: {method} {template} declares {sorted(declared)}")
    for segment in template.strip("/").split("/"):
        if _parameter_name(segment) is None and not LITERAL_SEGMENT.fullmatch(segment):
            raise RouteTableError(f"{app_id}: {template} has an unroutable segment {segment!r}")
    names = set()
    for parameter in parameters:
        if parameter["in"] != "path" or parameter["schema"].get("format") == "uuid":
            continue
        if parameter["schema"].get("pattern") != NAME_SCHEMA_PATTERN:
            raise RouteTableError(f"{app_id}: {template}: {parameter['name']} is not a UUID")
        names.add(parameter["name"])
    return Operation(
        method=method,
        template=template,
        app_id=app_id,
        public=not spec.get("security"),
        query=frozenset(p["name"] for p in parameters if p["in"] == "query"),
        names=frozenset(names),
    )


def _parameter_name(segment: str) -> str | None:
    found = PARAMETER_SEGMENT.fullmatch(segment)
    return found.group(1) if found else None


def _shape(segments: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("{}" if _parameter_name(s) is not None else s for s in segments)


def _invalid_path(name: str, reason: str) -> ProblemError:
    """422 naming the path parameter that does not have its declared form."""
    return ProblemError(
        422,
        "validation",
        "Unprocessable Content",
        "request is invalid",
        invalid_params=[InvalidParam(name=f"path.{name}", reason=reason)],
    )


def _parse_uuid(name: str, value: str) -> uuid.UUID:
    # Only the canonical 8-4-4-4-12 form: the parser would also take braces and `urn:`.
    if not CANONICAL_UUID.fullmatch(value):
        raise _invalid_path(name, "not a UUID")
    return uuid.UUID(value)


def _parse_name(name: str, value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise _invalid_path(name, "not a variable name")
    return value
