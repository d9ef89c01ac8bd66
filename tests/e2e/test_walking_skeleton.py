"""A run submitted through the gateway travels the whole message path and streams back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.git_remote import make_remote
from tests.support.platform import Platform
from tests.support.sse import Frame, collect

pytestmark = pytest.mark.e2e

EXPECTED_SIDECARS: dict[str, tuple[set[str], set[tuple[str, str, str]]]] = {
    "events-gateway": (
        {"pubsub-broadcast", "statestore", "secretstore"},
        {("pubsub-broadcast", "run-events", "run-events-dlq")},
    ),
    "run-api": (
        {"pubsub", "pubsub-broadcast", "integrations", "secretstore"},
        {
            ("integrations", "run-submissions", "run-submissions-dlq"),
            ("integrations", "run-submissions-dlq", ""),
            ("pubsub", "run-requested-dlq", ""),
            ("pubsub", "pr-requested-dlq", ""),
            ("pubsub-broadcast", "run-cancel-requested-dlq", ""),
            ("pubsub-broadcast", "run-events-dlq", ""),
        },
    ),
    "agent-runner": (
        {"pubsub", "pubsub-broadcast", "integrations", "secretstore", "ci-poll"},
        {
            ("pubsub", "run-requested", "run-requested-dlq"),
            ("pubsub", "pr-requested", "pr-requested-dlq"),
            ("pubsub-broadcast", "run-cancel-requested", "run-cancel-requested-dlq"),
        },
    ),
    "auth": ({"statestore", "secretstore"}, set()),
}


async def submit_run(
    client: httpx.AsyncClient, remote: Path, instruction: str, template: str = "append-note"
) -> dict[str, Any]:
    """Register the repo, open a task and submit one `command` run; returns the run."""
    repo = await client.post("/v1/repos", json={"url": f"file://{remote}"})
    assert repo.status_code == 201, repo.text
    task = await client.post("/v1/tasks", json={"repo_id": repo.json()["id"], "title": "e2e"})
    assert task.status_code == 201, task.text
    accepted = await client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={
            "instruction": instruction,
            "executors": [{"type": "command", "options": {"template": template}}],
        },
    )
    assert accepted.status_code == 202, accepted.text
    runs: list[dict[str, Any]] = accepted.json()["runs"]
    assert [r["status"] for r in runs] == ["queued"]
    return runs[0]


async def test_run_travels_the_whole_message_path(platform: Platform, tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    headers = {"authorization": f"Bearer {await platform.token()}"}
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=headers, timeout=60
    ) as client:
        run = await submit_run(client, remote, "write hello from e2e")
        status, frames = await collect(client, f"/v1/runs/{run['id']}/stream", headers)
        final = (await client.get(f"/v1/runs/{run['id']}")).json()
        patch = await client.get(f"/v1/runs/{run['id']}/patch")

    assert status == 200
    assert_frames_of_a_successful_run(frames, run["id"])
    assert final["status"] == "succeeded"
    assert final["files_changed"] == [
        {"path": "NOTES.md", "change": "added", "additions": 1, "deletions": 0}
    ]
    assert final["commit_sha"]
    assert final["branch"] == f"dursor/{run['id'].replace('-', '')[:12]}"
    assert patch.status_code == 200
    assert patch.headers["content-type"].startswith("text/x-diff")
    assert "+write hello from e2e" in patch.text
    assert "b/NOTES.md" in patch.text


def assert_frames_of_a_successful_run(frames: list[Frame], run_id: str) -> None:
    """Ids 1..n with no gap, queued then running first, a log batch, artifact, completed last."""
    assert [f.id for f in frames] == [str(i) for i in range(1, len(frames) + 1)]
    assert all(f.json["run_id"] == run_id and f.json["seq"] == int(f.id or 0) for f in frames)
    kinds = [f.event for f in frames]
    assert kinds[:2] == ["status", "status"]
    assert [f.json["data"]["status"] for f in frames[:2]] == ["queued", "running"]
    assert kinds[-2:] == ["artifact", "completed"]
    logs = [line for f in frames if f.event == "log" for line in f.json["data"]["lines"]]
    assert "wrote NOTES.md" in logs
    completed = frames[-1].json["data"]
    assert completed["files_changed"][0]["path"] == "NOTES.md"


async def test_each_sidecar_lists_its_components_and_subscriptions(platform: Platform) -> None:
    for app_id, (components, subscriptions) in EXPECTED_SIDECARS.items():
        metadata = await platform.sidecar_metadata(platform.replica(app_id))
        assert metadata["id"] == app_id
        assert {c["name"] for c in metadata["components"]} == components, app_id
        found = {
            (s["pubsubname"], s["topic"], s.get("deadLetterTopic", ""))
            for s in metadata.get("subscriptions", [])
        }
        assert found == subscriptions, app_id


async def test_logs_are_json_with_run_and_trace_ids_across_services(
    platform: Platform, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path)
    headers = {"authorization": f"Bearer {await platform.token()}"}
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=headers, timeout=60
    ) as client:
        run = await submit_run(client, remote, "trace me")
        await collect(client, f"/v1/runs/{run['id']}/stream", headers)

    accepted = _log_lines(platform, "run-api", "runs accepted", lambda e: run["id"] in e["run_ids"])
    ended = _log_lines(
        platform, "agent-runner", "attempt ended", lambda e: e["run_id"] == run["id"]
    )
    assert len(accepted) == 1
    assert len(ended) == 1
    # One W3C trace from the gateway through run-api, the outbox and Dapr to the runner.
    assert accepted[0]["trace_id"] == ended[0]["trace_id"]
    gateway_requests = _log_lines(
        platform,
        "events-gateway",
        "request",
        lambda e: e["path"].endswith(f"{run['task_id']}/runs"),
    )
    assert gateway_requests[0]["trace_id"] == accepted[0]["trace_id"]


def _log_lines(platform: Platform, app_id: str, event: str, match: Any) -> list[dict[str, Any]]:
    lines = []
    for raw in platform.replica(app_id).logs().splitlines():
        if not raw.startswith("{"):
            continue
        entry = json.loads(raw)
        if entry.get("event") == event and match(entry):
            lines.append(entry)
    return lines
