"""Regenerate the gateway's committed OpenAPI documents from the services' own apps.

    uv run python scripts/openapi_snapshots.py          # rewrite the files
    uv run python scripts/openapi_snapshots.py --check  # exit 1 listing stale files

Writes run-api's and auth's documents into the gateway package (its route table is built
from them: a public route reaches the edge only through this reviewed change) and the
merged public document `docs/openapi.json` (what the web UI's types are generated from).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from auth_service.app import create_app as create_auth
from auth_service.settings import AuthSettings
from events_gateway.app import create_app as create_gateway
from events_gateway.app import own_openapi
from events_gateway.edge.public_api import dump, public_document
from events_gateway.settings import GatewaySettings
from run_api.app import create_app as create_run_api
from run_api.settings import RunApiSettings

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "services" / "events_gateway" / "events_gateway" / "upstream"
PUBLIC = ROOT / "docs" / "openapi.json"
COMMAND = "uv run python scripts/openapi_snapshots.py"


def service_documents() -> dict[str, dict[str, Any]]:
    """run-api's and auth's documents as their apps build them (no process started)."""
    return {
        "run-api": create_run_api(RunApiSettings(app_id="run-api")).openapi(),
        "auth": create_auth(AuthSettings(app_id="auth")).openapi(),
    }


def upstream_files(documents: dict[str, dict[str, Any]]) -> dict[Path, str]:
    """The services' documents as the gateway package holds them."""
    return {UPSTREAM / f"{app}.json": dump(document) for app, document in documents.items()}


def public_file(documents: dict[str, dict[str, Any]]) -> dict[Path, str]:
    """The merged public document (the gateway's own routes need the package's snapshots)."""
    own = own_openapi(create_gateway(GatewaySettings()))
    return {PUBLIC: dump(public_document(own, documents))}


def stale_files() -> list[Path]:
    """The committed documents that differ from what the code produces now."""
    documents = service_documents()
    expected = upstream_files(documents)
    if all(path.exists() for path in expected):
        expected |= public_file(documents)
    else:
        expected[PUBLIC] = ""
    return [
        path
        for path, content in expected.items()
        if not path.exists() or path.read_text() != content
    ]


def write_all() -> None:
    """Rewrite the service snapshots first, then the public document built with them."""
    documents = service_documents()
    for path, content in upstream_files(documents).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for path, content in public_file(documents).items():
        path.write_text(content)


def main() -> None:
    """Rewrite the documents, or with --check list the stale ones and fail."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true")
    if not parser.parse_args().check:
        write_all()
        return
    stale = stale_files()
    for path in stale:
        print(f"stale: {path.relative_to(ROOT)} (run: {COMMAND})")
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
