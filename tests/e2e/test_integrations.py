"""The public integration surface, with real sidecars: the example app on the Dapr SDK.

One platform for the module, plus the example integration (examples/integration) under
its own Dapr app id, a chat receiver it posts to, and an app outside every scope.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI, Request

from dursor_kit.secret_names import app_api_token
from tests.conftest import redis_client
from tests.support.asgi_server import serve
from tests.support.backing import Backing, free_port
from tests.support.git_remote import make_remote
from tests.support.platform import ROOT, Platform, Replica

pytestmark = pytest.mark.e2e

EXAMPLE = "example-integration"
INTRUDER = "intruder-app"
EXAMPLE_COMMAND = [
    sys.executable,
    "-m",
    "uvicorn",
    "example_integration.app:create_app",
    "--factory",
    "--log-level",
    "warning",
]
NOTE = [{"type": "command", "options": {"template": "append-note"}}]
T = TypeVar("T")


@dataclass
class Chat:
    """The chat webhook the example's notifier posts to: every message, in arrival order."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def finished_of(self, run_ids: set[str]) -> Counter[str]:
        """How many `finished` notices each of these runs got."""
        return Counter(m["run_id"] for m in self.messages if m["run_id"] in run_ids)

    async def heard_of(self, run_ids: set[str]) -> bool | None:
        """True once every one of these runs was announced finished (a probe)."""
        return True if set(self.finished_of(run_ids)) == run_ids else None


@dataclass
class Integration:
    """The running example app, its chat, and how to restart it."""

    platform: Platform
    chat: Chat
    chat_url: str
    replica: Replica | None = None

    async def start(self) -> Replica:
        """Start the example app beside the platform (its consumer group is its app id)."""
        self.replica = self.platform.start(
            EXAMPLE,
            name=f"{EXAMPLE}-{uuid4().hex[:6]}",
            command=EXAMPLE_COMMAND,
            env={"CHAT_WEBHOOK_URL": self.chat_url, "DURSOR_SERVICE_IDENTITY": "ticket-bridge"},
        )
        await self.platform.wait_ready(self.replica)
        return self.replica


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Poll `probe` until it returns something, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"within {timeout}s: {what}")


def chat_app(chat: Chat) -> FastAPI:
    """A chat's incoming-webhook endpoint that keeps what it is sent."""
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        chat.messages.append(await request.json())
        return {"ok": "true"}

    return app


@pytest.fixture(scope="module")
async def integration(platform: Platform) -> AsyncIterator[Integration]:
    """The example app attached to the module's platform, with service identities made."""
    platform.add_secrets(
        {app_api_token(EXAMPLE): uuid4().hex, app_api_token(INTRUDER): uuid4().hex}
    )
    # The integrator's own sidecar configuration, under each app id that uses it.
    config = (ROOT / "examples" / "integration" / "dapr-config.yaml").read_text()
    for app_id in (EXAMPLE, INTRUDER):
        (platform.components / "config" / f"{app_id}.yaml").write_text(config)
    admin = {"authorization": f"Bearer {await platform.token()}"}
    async with httpx.AsyncClient(base_url=platform.gateway.url, headers=admin, timeout=30) as c:
        for username, role in (("ticket-bridge", "developer"), ("ticket-reader", "viewer")):
            made = await c.post(
                "/v1/users",
                json={
                    "username": username,
                    "role": role,
                    "issuer": "urn:dursor:integrations",
                    "subject": username,
                },
            )
            assert made.status_code == 201, made.text
    chat, port = Chat(), free_port()
    async with serve(chat_app(chat), port):
        running = Integration(platform, chat, f"http://127.0.0.1:{port}/hook")
        await running.start()
        yield running


async def developer(platform: Platform) -> httpx.AsyncClient:
    """A client of the gateway as a developer."""
    return httpx.AsyncClient(
        base_url=platform.gateway.url, headers=platform.bearer("developer"), timeout=30
    )


async def submit(client: httpx.AsyncClient, task_id: str, count: int) -> set[str]:
    """`count` command runs on the task; their ids."""
    accepted = await client.post(
        f"/v1/tasks/{task_id}/runs", json={"instruction": "note it", "executors": NOTE * count}
    )
    assert accepted.status_code == 202, accepted.text
    return {r["id"] for r in accepted.json()["runs"]}


async def all_finished(client: httpx.AsyncClient, run_ids: set[str]) -> dict[str, str] | None:
    """Each run's status once every one is terminal, else None."""
    statuses = {r: (await client.get(f"/v1/runs/{r}")).json()["status"] for r in run_ids}
    return statuses if all(s not in ("queued", "running") for s in statuses.values()) else None


async def test_each_finished_run_is_announced_once_even_across_a_restart(
    integration: Integration, tmp_path: Path
) -> None:
    platform, chat = integration.platform, integration.chat
    remote = make_remote(tmp_path)
    task_id = await platform.new_task(f"file://{remote}", "lifecycle")
    async with await developer(platform) as client:
        before = await submit(client, task_id, 2)
        await eventually(
            lambda: chat.heard_of(before),
            120,
            "the notifier heard of both finished runs",
        )
        assert integration.replica is not None
        integration.replica.stop()
        while_away = await submit(client, task_id, 2)
        statuses = await eventually(lambda: all_finished(client, while_away), 120, "runs end")
        await integration.start()
        await eventually(
            lambda: chat.heard_of(while_away),
            120,
            "the restarted app caught up with the runs that finished while it was away",
        )
        # A sentinel published after everything else: once it is in, nothing is in flight.
        sentinel = await submit(client, task_id, 1)
        await eventually(
            lambda: chat.heard_of(sentinel),
            120,
            "the sentinel run was announced",
        )

    assert set(statuses.values()) == {"succeeded"}
    counts = chat.finished_of(before | while_away | sentinel)
    assert counts == dict.fromkeys(before | while_away | sentinel, 1)
    for message in chat.messages:
        assert message["stage"] == "finished"
        assert message["link"] == f"/v1/runs/{message['run_id']}"
    assert "wrote NOTES.md" not in str(chat.messages)  # no log lines on the public topic


async def tasks_titled(client: httpx.AsyncClient, repo_id: str, title: str) -> list[Any]:
    """The tasks of a repository with this title."""
    page = (await client.get("/v1/tasks", params={"repo_id": repo_id, "limit": 200})).json()
    return [t for t in page["items"] if t["title"] == title]


async def ticket(integration: Integration, body: dict[str, Any]) -> str:
    """Hand a ticket to the example's bridge; the CloudEvent id it published."""
    assert integration.replica is not None
    async with httpx.AsyncClient(base_url=integration.replica.url, timeout=60) as client:
        sent = await client.post("/tickets", json=body)
    assert sent.status_code == 202, sent.text
    event_id: str = sent.json()["event_id"]
    return event_id


async def test_a_submission_makes_runs_that_complete_and_a_duplicate_makes_nothing(
    integration: Integration, tmp_path: Path
) -> None:
    platform, remote = integration.platform, make_remote(tmp_path)
    async with await developer(platform) as client:
        repo = await client.post("/v1/repos", json={"url": f"file://{remote}"})
        repo_id = repo.json()["id"]
        body = {
            "ticket_id": uuid4().hex,
            "repo_id": repo_id,
            "title": "ticket: note it",
            "instruction": "from a ticket",
            "executors": NOTE * 2,
        }
        first = await ticket(integration, body)
        again = await ticket(integration, body)
        # Submissions are taken one at a time in order: once this one's task exists, the
        # duplicate before it has been taken too.
        await ticket(integration, body | {"ticket_id": uuid4().hex, "title": "ticket: after"})
        await eventually(
            lambda: tasks_titled(client, repo_id, "ticket: after"), 120, "the later ticket's task"
        )
        tasks = await tasks_titled(client, repo_id, "ticket: note it")
        runs = (await client.get(f"/v1/tasks/{tasks[0]['id']}/runs")).json()["items"]
        statuses = await eventually(
            lambda: all_finished(client, {r["id"] for r in runs}), 120, "the ticket's runs end"
        )

    assert first == again
    assert len(tasks) == 1
    assert len(runs) == 2
    assert set(statuses.values()) == {"succeeded"}
    assert {r["created_by"] for r in runs} == {"urn:dursor:integrations#ticket-bridge"}


async def publish_as(replica: Replica, event: dict[str, Any]) -> httpx.Response:
    """Publish a CloudEvent to run-submissions through this app's own sidecar."""
    async with httpx.AsyncClient(base_url=replica.sidecar_url, timeout=30) as client:
        return await client.post(
            "/v1.0/publish/integrations/run-submissions",
            json=event,
            headers={**replica.sidecar_headers, "content-type": "application/cloudevents+json"},
        )


def submission(event_id: str, **data: Any) -> dict[str, Any]:
    """A run-submissions CloudEvent."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "tests",
        "type": "cloud.dursor.run-submissions.v1",
        "datacontenttype": "application/json",
        "data": {"schema_version": 1, "instruction": "x", "executors": NOTE} | data,
    }


async def test_refused_submissions_are_dead_letters_with_their_reason_for_admins(
    integration: Integration, tmp_path: Path
) -> None:
    platform, remote = integration.platform, make_remote(tmp_path)
    assert integration.replica is not None
    async with await developer(platform) as client:
        repo_id = (await client.post("/v1/repos", json={"url": f"file://{remote}"})).json()["id"]
    refused = {
        f"viewer-{uuid4().hex}": submission(
            "", submitted_as="ticket-reader", repo_id=repo_id, title="refused: viewer"
        ),
        f"unknown-executor-{uuid4().hex}": submission(
            "",
            submitted_as="ticket-bridge",
            repo_id=repo_id,
            title="refused: executor",
            executors=[{"type": "no-such-agent"}],
        ),
    }
    for event_id, event in refused.items():
        published = await publish_as(integration.replica, event | {"id": event_id})
        assert published.status_code == 204, published.text
    admin = {"authorization": f"Bearer {await platform.token()}"}
    async with httpx.AsyncClient(base_url=platform.gateway.url, headers=admin, timeout=30) as c:

        async def recorded() -> dict[str, Any] | None:
            page = await c.get("/v1/dead-letters", params={"topic": "run-submissions"})
            found = {d["event_id"]: d for d in page.json()["items"] if d["event_id"] in refused}
            return found if len(found) == len(refused) else None

        letters = await eventually(recorded, 60, "both refusals recorded as dead letters")
        as_developer = await c.get("/v1/dead-letters", headers=platform.bearer("developer"))
        titles = [
            t["title"]
            for t in (await c.get("/v1/tasks", params={"repo_id": repo_id})).json()["items"]
        ]

    viewer, executor = (letters[k] for k in refused)
    assert "viewer role" in viewer["reason"]
    assert "executors" in executor["reason"]
    assert viewer["payload"]["data"]["title"] == "refused: viewer"
    assert as_developer.status_code == 403
    assert as_developer.headers["content-type"].startswith("application/problem+json")
    assert not [t for t in titles if t.startswith("refused")]


async def test_an_app_outside_the_scopes_can_neither_publish_nor_subscribe(
    integration: Integration, backing: Backing
) -> None:
    platform = integration.platform
    intruder = platform.start(INTRUDER, command=EXAMPLE_COMMAND)
    await platform.wait_ready(intruder)
    metadata = await platform.sidecar_metadata(intruder)
    example = await platform.sidecar_metadata(platform.replica(EXAMPLE))
    assert integration.replica is not None
    answers = {}
    for topic in ("run-submissions", "run-lifecycle"):
        answers[topic] = await publish_as_to(intruder, topic)
    forged = await publish_as_to(integration.replica, "run-lifecycle")
    runner_submits = await publish_as_to(platform.replica("agent-runner"), "run-submissions")
    groups = redis_client(backing, platform.redis_db).xinfo_groups("run-lifecycle")

    assert "integrations" not in {c["name"] for c in metadata["components"]}
    assert not [s for s in metadata.get("subscriptions", []) if s["pubsubname"] == "integrations"]
    assert {r.status_code for r in answers.values()} == {404}
    assert all("ERR_PUBSUB_NOT_FOUND" in r.text for r in answers.values())
    assert {g["name"].decode() for g in groups} == {EXAMPLE}
    # In scope, but only for its own topics: the example cannot forge lifecycle news, nor
    # the runner submit work.
    assert ("integrations", "run-lifecycle") in {
        (s["pubsubname"], s["topic"]) for s in example["subscriptions"]
    }
    assert forged.status_code == 403
    assert runner_submits.status_code == 403
    intruder.stop()


async def publish_as_to(replica: Replica, topic: str) -> httpx.Response:
    """Publish a harmless JSON message to an integrations topic through `replica`'s sidecar."""
    async with httpx.AsyncClient(base_url=replica.sidecar_url, timeout=30) as client:
        return await client.post(
            f"/v1.0/publish/integrations/{topic}",
            json={"note": "should not be allowed"},
            headers=replica.sidecar_headers,
        )
