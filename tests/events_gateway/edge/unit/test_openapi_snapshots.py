"""The gateway's route table and public document match the services: a new route shows in review."""

from __future__ import annotations

import json

from events_gateway.edge.public_api import upstream_documents
from scripts.openapi_snapshots import COMMAND, PUBLIC, service_documents, stale_files


def test_committed_documents_match_the_services() -> None:
    stale = [str(path) for path in stale_files()]
    assert stale == [], f"regenerate with `{COMMAND}` and review the diff"


def test_the_gateway_package_holds_the_same_documents_as_the_services() -> None:
    assert upstream_documents() == json.loads(json.dumps(service_documents()))


def test_the_public_document_has_every_v1_route_and_nothing_internal() -> None:
    public = json.loads(PUBLIC.read_text())
    paths = set(public["paths"])
    assert all(p.startswith("/v1/") for p in paths)
    assert not any("/internal/" in p or "/dapr/" in p for p in paths)
    served = {
        (method, path)
        for document in service_documents().values()
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method in item
    }
    own = {
        ("post", "/v1/streams/tickets"),
        ("get", "/v1/runs/{run_id}/stream"),
        ("get", "/v1/tasks/{task_id}/stream"),
        ("post", "/v1/github/webhook"),
        ("get", "/v1/gateway/metrics"),
    }
    documented = {(m, p) for p, item in public["paths"].items() for m in item}
    assert documented == served | own
    assert public["components"]["securitySchemes"]["StreamTicket"]["in"] == "query"
