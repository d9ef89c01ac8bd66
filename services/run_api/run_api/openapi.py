"""run-api's OpenAPI document: error answers typed as what they are, problem+json.

FastAPI files a response model under `application/json`; every error of this API is
sent as `application/problem+json`, so the Problem schema is moved there. Clients and
schema checkers (schemathesis) then validate error bodies against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dursor_contracts.problems import PROBLEM_MEDIA_TYPE
from dursor_kit.web.edge_answers import add_edge_answers


def _retype_errors(schema: dict[str, Any]) -> None:
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _retype_errors(schema)
            add_edge_answers(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
