"""run-api's OpenAPI document: error answers typed as what they are, problem+json.

FastAPI files a response model under `application/json`; every error of this API is
sent as `application/problem+json`, so the Problem schema is moved there. Clients and
schema checkers (schemathesis) then validate error bodies against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from dursor_contracts.problems import PROBLEM_MEDIA_TYPE


def _retype_errors(schema: dict[str, Any]) -> None:
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")


def install_openapi(app: FastAPI) -> None:
    """Serve the app's document (the kit's, with the shared answers) with errors retyped."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI caches it: retyping again finds nothing to move
        _retype_errors(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
