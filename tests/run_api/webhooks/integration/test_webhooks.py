"""Outgoing webhooks on a real database and a real local receiver.

run-api runs in process; its dispatcher sends to a receiver on loopback (local mode), which
verifies every Standard Webhooks signature with the `standardwebhooks` library. Runs are
made (and cancelled) through the API, so the deliveries come from the real announcements.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from dursor_kit.webhook_targets import Resolver, TargetPolicy
from run_api.keyring import FixedKeyRing
from run_api.webhooks.dispatcher import RetryPolicy, WebhookDispatcher
from run_api.webhooks.service import Webhooks
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.run_api_app import RunApi, bearer, run_api

ADMIN, DEV = bearer("admin"), bearer("developer")
FAST = RetryPolicy(max_attempts=5, base_seconds=0.05, max_seconds=0.2)


@dataclass
class Receiver:
    """A webhook endpoint that verifies signatures and fails its first `failures` requests."""

    secret: str = ""
    failures: int = 0
    requests: int = 0
    taken: list[dict[str, Any]] = field(default_factory=list)
    forged: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.requests += 1
            body = (await request.body()).decode()
            try:
                verified = Webhook(self.secret).verify(body, dict(request.headers))
            except WebhookVerificationError:
                self.forged += 1
                return Response(status_code=401)
            if self.requests <= self.failures:
                return Response(status_code=503)
            self.taken.append({"id": request.headers["webhook-id"], **verified})
            return Response(status_code=204)

        return app


@dataclass
class Dns:
    """The answers of a test's DNS: host -> addresses (changeable, as DNS rebinding does)."""

    answers: dict[str, list[str]] = field(default_factory=dict)

    async def resolve(self, host: str, port: int) -> list[str]:
        return self.answers.get(host, [])


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    async with run_api(engine, tmp_path) as running:
        yield running


def use_policy(api: RunApi, policy: TargetPolicy, resolver: Resolver) -> WebhookDispatcher:
    """Give the app's registration and a dispatcher this policy and DNS."""
    ring = FixedKeyRing(api.ring)
    api.app.state.webhooks = Webhooks(ring, policy, resolver)
    return WebhookDispatcher(api.engine, ring, policy, resolver, FAST, timeout_seconds=5)


async def register(api: RunApi, url: str, *events: str) -> dict[str, Any]:
    made = await api.client.post(
        "/v1/webhooks", json={"url": url, "event_types": list(events)}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def two_runs_accepted_and_cancelled(api: RunApi) -> list[str]:
    """Two runs queued then cancelled: run.accepted then run.finished for each."""
    repo = await api.client.post("/v1/repos", json={"url": "file:///srv/hooks"}, headers=DEV)
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "hooks"}, headers=DEV
    )
    accepted = await api.client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={"instruction": "x", "executors": [{"type": "codex"}, {"type": "claude_code"}]},
        headers=DEV,
    )
    assert accepted.status_code == 202, accepted.text
    run_ids = [r["id"] for r in accepted.json()["runs"]]
    for run_id in run_ids:
        cancelled = await api.client.post(f"/v1/runs/{run_id}/cancel", headers=DEV)
        assert cancelled.status_code == 202
    return run_ids


async def drain(dispatcher: WebhookDispatcher, until: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the deliveries did not arrive in time"
        await dispatcher.deliver_once()


async def test_a_receiver_that_fails_three_times_gets_every_delivery_once_in_order(
    api: RunApi,
) -> None:
    receiver, port = Receiver(failures=3), free_port()
    dispatcher = use_policy(api, TargetPolicy.of("local", []), Dns().resolve)
    hook = await register(
        api, f"http://127.0.0.1:{port}/hook", "run.accepted", "run.finished", "run.started"
    )
    receiver.secret = hook["secret"]
    run_ids = await two_runs_accepted_and_cancelled(api)
    async with serve(receiver.app(), port):
        await drain(dispatcher, lambda: len(receiver.taken) == 4)
        log = await api.client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=ADMIN)

    assert receiver.forged == 0
    assert receiver.requests == 4 + 3
    assert len({t["id"] for t in receiver.taken}) == 4
    for run_id in run_ids:
        mine = [t for t in receiver.taken if t["data"]["run_id"] == run_id]
        assert [t["type"] for t in mine] == ["run.accepted", "run.finished"]
        assert [t["data"]["stage"] for t in mine] == ["accepted", "finished"]
        assert mine[0]["data"]["sequence"] < mine[1]["data"]["sequence"]
        assert mine[1]["data"]["status"] == "cancelled"
    assert log.status_code == 200
    entries = log.json()["items"]
    assert {e["status"] for e in entries} == {"delivered"}
    assert sum(e["attempts"] for e in entries) == 4 + 3
    assert "secret" not in str(entries)


async def test_a_delivery_is_dead_after_its_last_try_and_the_log_says_why(api: RunApi) -> None:
    receiver, port = Receiver(failures=1000), free_port()
    dispatcher = use_policy(api, TargetPolicy.of("local", []), Dns().resolve)
    hook = await register(api, f"http://127.0.0.1:{port}/hook", "run.finished")
    receiver.secret = hook["secret"]
    await two_runs_accepted_and_cancelled(api)
    log_url = f"/v1/webhooks/{hook['id']}/deliveries"

    async def dead() -> bool:
        entries = (await api.client.get(log_url, headers=ADMIN)).json()["items"]
        return len(entries) == 2 and all(e["status"] == "dead" for e in entries)

    async with serve(receiver.app(), port):
        deadline = time.monotonic() + 30
        while not await dead():
            assert time.monotonic() < deadline
            await dispatcher.deliver_once()
        entries = (await api.client.get(log_url, headers=ADMIN)).json()["items"]

    assert receiver.requests == 2 * FAST.max_attempts
    assert receiver.taken == []
    for entry in entries:
        assert entry["attempts"] == FAST.max_attempts
        assert entry["last_status_code"] == 503
        assert entry["last_error"] == "the endpoint answered 503"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.20.30.40", "169.254.169.254"])
async def test_cloud_mode_refuses_non_public_targets_at_registration(
    api: RunApi, address: str
) -> None:
    dns = Dns({"hooks.rebind.test": [address]})
    use_policy(api, TargetPolicy.of("cloud", []), dns.resolve)
    for url in (f"https://{address}/hook", "https://hooks.rebind.test/hook"):
        refused = await api.client.post(
            "/v1/webhooks", json={"url": url, "event_types": ["run.finished"]}, headers=ADMIN
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"].endswith("webhook-target-refused")
        assert address in refused.json()["detail"]
    listed = await api.client.get("/v1/webhooks", headers=ADMIN)
    assert listed.json()["items"] == []


@pytest.mark.parametrize("address", ["127.0.0.1", "10.20.30.40", "169.254.169.254"])
async def test_cloud_mode_refuses_a_host_that_rebinds_at_delivery(
    api: RunApi, address: str
) -> None:
    receiver, port = Receiver(), free_port()
    dns = Dns({"hooks.rebind.test": ["93.184.216.34"]})
    dispatcher = use_policy(api, TargetPolicy.of("cloud", []), dns.resolve)
    hook = await register(api, f"https://hooks.rebind.test:{port}/hook", "run.accepted")
    dns.answers["hooks.rebind.test"] = [address]  # the name now points inside
    await two_runs_accepted_and_cancelled(api)
    async with serve(receiver.app(), port):
        assert await dispatcher.deliver_once() == 2  # each run's run.accepted
        entries = (
            await api.client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=ADMIN)
        ).json()["items"]

    assert receiver.requests == 0
    assert len(entries) == 2
    for entry in entries:
        assert (entry["status"], entry["attempts"], entry["last_status_code"]) == (
            "pending",
            1,
            None,
        )
        assert entry["last_error"].startswith("refused target")
        assert address in entry["last_error"]


async def test_only_admins_manage_webhooks(api: RunApi) -> None:
    use_policy(api, TargetPolicy.of("local", []), Dns().resolve)
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["run.finished"]}
    assert (await api.client.post("/v1/webhooks", json=body, headers=DEV)).status_code == 403
    assert (await api.client.get("/v1/webhooks", headers=DEV)).status_code == 403
    bad_secret = await api.client.post(
        "/v1/webhooks", json=body | {"secret": "not-a-standard-secret"}, headers=ADMIN
    )
    assert bad_secret.status_code == 422
    listed = await api.client.get("/v1/webhooks", headers=ADMIN)
    assert listed.json()["items"] == []
