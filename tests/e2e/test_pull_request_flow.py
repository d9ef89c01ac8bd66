"""From a run to a pull request and back, through the whole platform and a GitHub stand-in.

Real git pushes over HTTP with an installation token minted by auth from the App's
key; the GitHub REST stand-in answers like GitHub (GHES layout). CI status and review
comments arrive as signed webhooks at the gateway: a replayed delivery does nothing, a
comment becomes a follow-up only when GitHub says its author may write, and the webhook
secret rotates without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dursor_kit.secret_names import GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET
from tests.conftest import PlatformFactory
from tests.standins.github import GitHubRepos, failing
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.git_remote import make_remote
from tests.support.platform import Platform
from tests.support.sse import collect

pytestmark = pytest.mark.e2e

REPO = "acme/widgets"
# Repository roles on the stand-in: `octo` may push, `reader` only read.
COLLABORATORS = {REPO: {"octo": "write", "reader": "read"}}


def app_key_pair() -> tuple[str, str]:
    """A GitHub App private key (PEM) and its public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


async def start_platform(
    make_platform: PlatformFactory, github_port: int, private_key: str
) -> Platform:
    """The four services pointed at the stand-in as a GitHub Enterprise Server."""
    host = f"127.0.0.1:{github_port}"
    env = {
        "DURSOR_GITHUB_API_URL": f"http://{host}/api/v3",
        "DURSOR_GITHUB_HOSTS": json.dumps([host]),
        "DURSOR_INSECURE_REPO_HOSTS": json.dumps([host]),
        # A failed signature re-reads the webhook secret at most every second here.
        "DURSOR_WEBHOOK_SECRET_REFRESH_SECONDS": "1",
    }
    platform = await make_platform(env=env, start=False)
    platform.add_secrets({GITHUB_APP_ID: "4242", GITHUB_APP_PRIVATE_KEY: private_key})
    await platform.start_all()
    return platform


def signed(secret: str, event: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A webhook body and GitHub's headers for it."""
    body = json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "x-github-event": event,
        "x-github-delivery": f"d-{time.time_ns()}",
        "x-hub-signature-256": f"sha256={digest}",
        "content-type": "application/json",
    }


async def wait_for(check: Any, timeout: float = 60.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.3)
    raise AssertionError("condition not met in time")


async def test_run_to_pull_request_ci_and_review_follow_up(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    private_key, public_key = app_key_pair()
    port = free_port()
    github = GitHubRepos(
        tmp_path / "github",
        app_public_key=public_key,
        installations={REPO: 7},
        collaborators=COLLABORATORS,
    )
    (tmp_path / "github" / "acme").mkdir(parents=True)
    shutil.move(str(make_remote(tmp_path / "seed")), github.repo_path(REPO))
    async with serve(github.app(), port):
        platform = await start_platform(make_platform, port, private_key)
        headers = platform.bearer("developer")
        async with httpx.AsyncClient(
            base_url=platform.gateway.url, headers=headers, timeout=60
        ) as client:
            await flow(client, platform, github, f"http://127.0.0.1:{port}/{REPO}.git", headers)


async def flow(
    client: httpx.AsyncClient,
    platform: Platform,
    github: GitHubRepos,
    url: str,
    headers: dict[str, str],
) -> None:
    """Run, PR, update, CI by webhook, bad signature, review comment → commits on the PR."""
    repo = (await client.post("/v1/repos", json={"url": url})).json()
    task = (await client.post("/v1/tasks", json={"repo_id": repo["id"], "title": "Widgets"})).json()
    run = (
        await client.post(
            f"/v1/tasks/{task['id']}/runs",
            json={
                "instruction": "first line",
                "executors": [{"type": "command", "options": {"template": "append-note"}}],
            },
        )
    ).json()["runs"][0]
    await collect(client, f"/v1/runs/{run['id']}/stream", headers)

    async def open_pr() -> dict[str, Any] | None:
        prs = (await client.get(f"/v1/tasks/{task['id']}/pull-requests")).json()["items"]
        return prs[0] if prs and prs[0]["state"] == "open" else None

    assert (await client.post(f"/v1/runs/{run['id']}/pull-request")).status_code == 202
    pr = await wait_for(open_pr)
    (pull,) = github.pulls[REPO]
    assert (pull.head, pr["number"]) == (run["branch"], 1)
    first_head = github.branch_sha(REPO, run["branch"])
    assert first_head == pr["head_sha"]

    assert (await client.post(f"/v1/runs/{run['id']}/pull-request")).status_code == 202
    await wait_for(lambda: _called(github, "PATCH", f"/pulls/{pull.number}"))
    assert len(github.pulls[REPO]) == 1

    # The stand-in's API answers the platform's CI poller what the webhook below says.
    check = {"name": "ci", "status": "completed", "conclusion": "success"}
    standin = url.removesuffix(f"/{REPO}.git")
    told = await client.post(
        f"{standin}/_control/ci", json={"sha": first_head, "check_runs": [check]}
    )
    assert told.status_code == 200
    secret = platform.secrets[GITHUB_WEBHOOK_SECRET]
    body, hook = signed(
        secret,
        "check_suite",
        {
            "action": "completed",
            "check_suite": {"head_sha": first_head, "status": "completed", "conclusion": "success"},
        },
    )
    assert (await client.post("/v1/github/webhook", content=body, headers=hook)).status_code == 202
    bad = hook | {"x-hub-signature-256": "sha256=" + "0" * 64}
    refused = await client.post("/v1/github/webhook", content=body, headers=bad)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    # The update is recorded after GitHub's PATCH: wait for the record to be open again.
    assert (await wait_for(open_pr))["ci_status"] == "success"
    await standin_ci_fails(platform, github, pr["head_sha"], run["branch"], open_pr)

    body, hook = signed(secret, "pull_request_review_comment", review(pr, "octo", "second line"))
    assert (await client.post("/v1/github/webhook", content=body, headers=hook)).status_code == 202

    async def pushed_again() -> str | None:
        head = github.branch_sha(REPO, run["branch"])
        return head if head != first_head else None

    await wait_for(pushed_again, timeout=90)
    final = (await client.get(f"/v1/runs/{run['id']}")).json()
    assert (final["turn"], final["status"]) == (2, "succeeded")
    assert len(github.pulls[REPO]) == 1  # the same PR, new commits
    notes = (await client.get(f"/v1/runs/{run['id']}/patch")).text
    assert "+first line" in notes
    assert "+second line" in notes
    # Three pushes, one token: replicas share it through the state store until near expiry.
    assert len(github.issued) == 1
    await replay_and_reader(client, github, run["id"], pr, (body, hook), secret)
    await rotate_webhook_secret(client, platform)
    assert_no_token_in_logs(platform, github)


async def standin_ci_fails(
    platform: Platform,
    github: GitHubRepos,
    sha: str,
    branch: str,
    open_pr: Callable[[], Awaitable[dict[str, Any] | None]],
) -> None:
    """The stand-in's own CI webhooks, signed with the platform's secret, pass the gateway."""
    hook_url = f"{platform.gateway.url}/v1/github/webhook"
    github.hooks.configure(
        hook_url, platform.secrets[GITHUB_WEBHOOK_SECRET], events={"check_run", "check_suite"}
    )
    await github.ci.run(REPO, sha, failing("Run tests", "1 failed"), branch)
    answered = [(d.event, d.action, d.status) for d in github.hooks.deliveries]
    assert answered == [
        ("check_run", "created", 202),
        ("check_run", "completed", 202),
        ("check_suite", "completed", 202),
    ]
    assert (await open_pr())["ci_status"] == "failure"  # type: ignore[index]


def review(pr: dict[str, Any], login: str, text: str) -> dict[str, Any]:
    """A review comment on the PR addressed to dursor."""
    return {
        "action": "created",
        "pull_request": {"number": 1, "html_url": pull_url(pr)},
        # GitHub calls a read-only collaborator a COLLABORATOR too: only the API knows.
        "comment": {
            "body": f"@dursor {text}",
            "author_association": "COLLABORATOR",
            "user": {"login": login},
        },
    }


async def replay_and_reader(
    client: httpx.AsyncClient,
    github: GitHubRepos,
    run_id: str,
    pr: dict[str, Any],
    delivered: tuple[bytes, dict[str, str]],
    secret: str,
) -> None:
    """The follow-up's delivery again, then a comment by a reader: neither runs anything."""

    async def user_messages() -> list[str]:
        page = (await client.get(f"/v1/runs/{run_id}/messages")).json()["items"]
        return [m["content"] for m in page if m["role"] == "user"]

    before = await user_messages()
    replayed = await client.post("/v1/github/webhook", content=delivered[0], headers=delivered[1])
    body, hook = signed(secret, "pull_request_review_comment", review(pr, "reader", "drop db"))
    by_reader = await client.post("/v1/github/webhook", content=body, headers=hook)
    after = await user_messages()
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    events = (await client.get(f"/v1/runs/{run_id}/events")).text
    asked = [p for m, p, s in github.calls if m == "GET" and p.endswith("/permission")]
    assert sorted(before) == ["first line", "second line"]
    assert (replayed.status_code, replayed.json()) == (200, {"outcome": "duplicate"})
    assert (by_reader.status_code, by_reader.json()) == (202, {"outcome": "ignored"})
    assert after == before  # one follow-up, not two; none for the reader
    assert (run["turn"], run["status"]) == (2, "succeeded")
    assert "a review comment by reader was not run: no write permission" in events
    assert [p.rsplit("/", 2)[1] for p in asked] == ["octo", "reader"]


async def rotate_webhook_secret(client: httpx.AsyncClient, platform: Platform) -> None:
    """A new secret in the store verifies without a restart; the old one stops verifying."""
    old = platform.secrets[GITHUB_WEBHOOK_SECRET]
    new = "rotated-" + old
    platform.add_secrets({GITHUB_WEBHOOK_SECRET: new})
    # The local file store reads its file at start; a sidecar reloads it on SIGHUP (its
    # app keeps running, and so does its cached secret). Key Vault is read on each request.
    platform.reload_sidecars()

    async def ping(secret: str) -> int | None:
        body, hook = signed(secret, "ping", {"zen": "Approachable is better than simple."})
        try:
            response = await client.post("/v1/github/webhook", content=body, headers=hook)
        except httpx.TransportError:  # a reloading sidecar may drop the invocation
            return None
        return response.status_code

    async def new_secret_verifies() -> bool:
        return await ping(new) == 202

    await wait_for(new_secret_verifies, timeout=60)
    assert await ping(old) == 401


def pull_url(pr: dict[str, Any]) -> str:
    """The PR's html_url as dursor stored it."""
    url: str = pr["url"]
    return url


async def _called(github: GitHubRepos, method: str, suffix: str) -> bool:
    return any(m == method and p.endswith(suffix) for m, p, _ in github.calls)


def assert_no_token_in_logs(platform: Platform, github: GitHubRepos) -> None:
    """No installation token appears in any service's or sidecar's log."""
    assert github.issued
    for replica in platform.replicas:
        text = replica.logs() + replica.daprd_log.read_text(errors="replace")
        for token in github.issued:
            assert token not in text, replica.name
