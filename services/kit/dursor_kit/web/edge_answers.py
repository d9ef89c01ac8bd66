"""Answers any public operation can give whatever its route, declared in each OpenAPI document.

Every `/v1/` request passes the events-gateway first: its per-caller rate limit answers
429 with `Retry-After`, and when the app behind it (or that app's own dependency) is
unreachable the caller gets 503 with `Retry-After`. An operation that takes a body
answers 400 when the body is not JSON at all (before any route code runs). Clients and
fuzzers read each service's document, so each declares these on every public operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from dursor_contracts.problems import PROBLEM_MEDIA_TYPE, Problem

PUBLIC_PREFIX = "/v1/"
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}
EDGE_ANSWERS: dict[str, tuple[str, bool]] = {
    # status: (description, whether every such answer carries Retry-After)
    "429": ("Too many requests from this caller: retry after `Retry-After` seconds.", True),
    "503": ("A service or one of its dependencies is unreachable for now.", False),
}


def declare_edge_answers(app: FastAPI) -> None:
    """Make `app.openapi()` declare the shared answers on every public operation."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI caches it: adding again is a no-op by setdefault
        add_edge_answers(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def add_edge_answers(document: dict[str, Any]) -> None:
    """Add the shared answers to every `/v1/` operation of an OpenAPI document."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(Problem.__name__, Problem.model_json_schema())
    for path, item in document.get("paths", {}).items():
        if not path.startswith(PUBLIC_PREFIX):
            continue
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", _problem("The body is not valid JSON."))
            for status, (description, always_retry_after) in EDGE_ANSWERS.items():
                response = responses.setdefault(status, _problem(description))
                header = RETRY_AFTER | {"required": always_retry_after}
                response.setdefault("headers", {}).setdefault("Retry-After", header)


def _problem(description: str) -> dict[str, Any]:
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {"description": description, "content": content}
