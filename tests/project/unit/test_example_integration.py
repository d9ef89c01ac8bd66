"""The example integration stays a third party's app and speaks the published contract."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from example_integration.app import create_app
from example_integration.notifier import chat_message
from example_integration.ticket_bridge import Ticket, submission_event

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "integration"
CONTRACTS = ROOT / "docs" / "contracts"


def test_the_example_imports_nothing_of_dursor() -> None:
    sources = {p: p.read_text() for p in EXAMPLE.rglob("*.py")}
    assert sources
    ours = re.compile(r"^\s*(from|import)\s+(dursor_|run_api|agent_runner|events_gateway)", re.M)
    assert [p for p, text in sources.items() if ours.search(text)] == []


def test_a_ticket_becomes_a_submission_the_contract_accepts() -> None:
    ticket = Ticket(
        ticket_id="JIRA-7",
        repo_id="1f0c2b8e-5d1a-4c55-9a5e-2f9f1b7c0d11",
        title="Fix the login page",
        instruction="Make the login page accessible",
        executors=[{"type": "claude_code"}],
    )
    event = submission_event(ticket, "ticket-bridge")
    schema = json.loads((CONTRACTS / "run-submissions.v1.schema.json").read_text())
    jsonschema_rs.validate(schema, event["data"])
    assert event["id"] == "ticket-JIRA-7"
    assert submission_event(ticket, "ticket-bridge")["id"] == event["id"]


def test_the_notifier_reads_what_the_lifecycle_contract_says() -> None:
    schema = json.loads((CONTRACTS / "run-lifecycle.v1.schema.json").read_text())
    run: dict[str, Any] = {
        "schema_version": 1,
        "run_id": "7c1e9a40-3b5d-4f6e-8a7b-9c0d1e2f3a4b",
        "task_id": "9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f",
        "stage": "finished",
        "sequence": 9,
        "turn": 1,
        "attempt": 1,
        "status": "succeeded",
        "executor": "codex",
        "summary": "Added GET /healthz",
        "files_changed": [{"path": "app.py", "change": "modified", "additions": 6, "deletions": 0}],
        "branch": "dursor/7c1e9a403b5d",
        "links": {
            "run": "/v1/runs/7c1e9a40-3b5d-4f6e-8a7b-9c0d1e2f3a4b",
            "task": "/v1/tasks/9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f",
            "patch": "/v1/runs/7c1e9a40-3b5d-4f6e-8a7b-9c0d1e2f3a4b/patch",
            "events": "/v1/runs/7c1e9a40-3b5d-4f6e-8a7b-9c0d1e2f3a4b/events",
        },
        "occurred_at": "2026-11-30T06:00:00Z",
    }
    jsonschema_rs.validate(schema, run)
    message = chat_message("event-1", run)
    assert message["text"].startswith(f"dursor run {run['run_id']} succeeded: Added GET /healthz")
    assert message["link"] == run["links"]["run"]


def test_the_app_subscribes_to_run_lifecycle_through_dapr_app() -> None:
    with TestClient(create_app()) as client:
        subscriptions = client.get("/dapr/subscribe").json()
        delivery = client.post(
            "/events/run-lifecycle", json={"id": "x", "data": {"stage": "started"}}
        )
    assert {(s["pubsubname"], s["topic"]) for s in subscriptions} == {
        ("integrations", "run-lifecycle")
    }
    assert delivery.json() == {"status": "SUCCESS"}
