"""Every public operation declares the answers it can give whatever its route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = [
    ROOT / "docs" / "openapi.json",
    *sorted((ROOT / "services/events_gateway/events_gateway/upstream").glob("*.json")),
]


def public_operations(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(label, operation) of every /v1/ operation of one committed document."""
    paths = json.loads(path.read_text())["paths"]
    return [
        (f"{method.upper()} {template}", operation)
        for template, item in paths.items()
        if template.startswith("/v1/")
        for method, operation in item.items()
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_rate_limit_and_unavailable_are_declared_with_retry_after(document: Path) -> None:
    operations = public_operations(document)
    assert operations
    for label, operation in operations:
        responses = operation["responses"]
        assert {"429", "503"} <= set(responses), label
        assert responses["429"]["headers"]["Retry-After"]["required"] is True, label
        assert "Retry-After" in responses["503"]["headers"], label
        assert "application/problem+json" in responses["429"]["content"], label


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_operation_with_a_body_declares_the_malformed_body_answer(document: Path) -> None:
    with_body = [(label, op) for label, op in public_operations(document) if "requestBody" in op]
    assert with_body
    for label, operation in with_body:
        assert "400" in operation["responses"], label
