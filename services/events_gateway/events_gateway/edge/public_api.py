"""The public API: the forwarded operations of run-api and auth plus the gateway's own.

run-api's and auth's OpenAPI documents are committed in `events_gateway/upstream/`
(regenerate with `uv run python scripts/openapi_snapshots.py`; a unit test fails while
they are stale). The route table is built from them, so a new public route of either
service reaches the edge only through a reviewed snapshot change. The same documents,
merged with the gateway's own `/v1/` operations, are the one public OpenAPI document
served at `/openapi.json` (and `/docs`) and committed as `docs/openapi.json`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from dursor_contracts.problems import PROBLEM_MEDIA_TYPE
from events_gateway.edge.route_table import PUBLIC_PREFIX, RouteTable, RouteTableError

UPSTREAM_APPS = ("run-api", "auth")
TITLE = "dursor cloud API"
DESCRIPTION = (
    "The public API of dursor cloud, served by the events-gateway: repositories, tasks, "
    "runs, follow-ups, patches, pull requests and model profiles (run-api), users, roles "
    "and tokens (auth), and live run streams, stream tickets and GitHub webhooks (the "
    "gateway). Authenticate with `Authorization: Bearer <token>`; a browser `EventSource` "
    "opens a stream with a single-use ticket from `POST /v1/streams/tickets` instead. "
    "Every error is `application/problem+json` (RFC 9457)."
)


def upstream_documents() -> dict[str, dict[str, Any]]:
    """The committed OpenAPI documents of the apps the gateway forwards to."""
    folder = resources.files("events_gateway") / "upstream"
    return {app: json.loads((folder / f"{app}.json").read_text()) for app in UPSTREAM_APPS}


def route_table(documents: Mapping[str, Mapping[str, Any]] | None = None) -> RouteTable:
    """The forwarding table from the committed documents."""
    return RouteTable.from_documents(documents or upstream_documents())


def public_document(
    own: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """One OpenAPI document: every `/v1/` operation of the upstream apps and the gateway."""
    merged: dict[str, Any] = {
        "openapi": own["openapi"],
        "info": {"title": TITLE, "version": own["info"]["version"], "description": DESCRIPTION},
        "paths": {},
        "components": {},
    }
    sources = {**(documents or upstream_documents()), "events-gateway": own}
    for app_id, document in sources.items():
        _merge_paths(merged["paths"], app_id, document)
        _merge_components(merged["components"], app_id, document.get("components", {}))
    merged["paths"] = dict(sorted(merged["paths"].items()))
    _retype_errors(merged)
    return merged


def _merge_paths(paths: dict[str, Any], app_id: str, document: Mapping[str, Any]) -> None:
    for template, item in document.get("paths", {}).items():
        if not template.startswith(PUBLIC_PREFIX):
            continue
        target = paths.setdefault(template, {})
        for method, operation in item.items():
            if method in target:
                raise RouteTableError(f"{app_id} and another app both serve {method} {template}")
            target[method] = copy.deepcopy(operation) | {"x-dursor-app-id": app_id}


def _merge_components(components: dict[str, Any], app_id: str, given: Mapping[str, Any]) -> None:
    for section, entries in given.items():
        target = components.setdefault(section, {})
        for name, value in entries.items():
            if name in target and target[name] != value:
                raise RouteTableError(f"{app_id} defines {section}/{name} differently")
            target[name] = copy.deepcopy(value)


def _retype_errors(document: dict[str, Any]) -> None:
    # FastAPI files error models under application/json; they are sent as problem+json.
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")


def dump(document: Mapping[str, Any]) -> str:
    """The canonical text of a committed document (sorted keys, two-space indent)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
