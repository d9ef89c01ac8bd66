"""A GitHub stand-in served on loopback with a repository, a token, and a webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.standins.github import GitHubRepos
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.git_remote import git, make_remote

REPO = "acme/widgets"
TOKEN = "ghs_test_token_for_widgets"
SECRET = "webhook-secret-for-tests"
APP_PY = "".join(f"line {n}\n" for n in range(1, 31))


@dataclass(frozen=True)
class Received:
    """One webhook as the receiver got it."""

    event: str
    delivery: str
    signature: str
    body: bytes
    payload: dict[str, Any]

    def signed_with(self, secret: str) -> bool:
        """Whether the signature verifies with `secret` (as a receiver checks it)."""
        digest = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.signature, f"sha256={digest}")


@dataclass
class World:
    """The stand-in, a REST client holding an installation token, and what the receiver got."""

    github: GitHubRepos
    api: httpx.AsyncClient
    url: str
    work: Path
    received: list[Received] = field(default_factory=list)

    def events(self, name: str, action: str | None = None) -> list[Received]:
        """Received webhooks of one event (and action)."""
        return [
            r
            for r in self.received
            if r.event == name and action in (None, r.payload.get("action"))
        ]

    async def push(self, branch: str, files: dict[str, str], message: str) -> str:
        """Commit `files` on `branch` and push it over smart HTTP; returns the new sha."""
        remote = f"http://x-access-token:{TOKEN}@{self.url.removeprefix('http://')}/{REPO}.git"

        def commit_and_push() -> str:
            git("checkout", "-q", "-B", branch, cwd=self.work)
            for name, text in files.items():
                (self.work / name).write_text(text)
            git("add", ".", cwd=self.work)
            git("commit", "-q", "-m", message, cwd=self.work)
            git("push", "-q", remote, f"{branch}:{branch}", cwd=self.work)
            return git("rev-parse", "HEAD", cwd=self.work).strip()

        return await asyncio.to_thread(commit_and_push)

    async def open_pull(self, branch: str, files: dict[str, str]) -> dict[str, Any]:
        """Push a branch and open a PR from it into main, as dursor does."""
        await self.push(branch, files, f"work on {branch}")
        body = {"title": f"Work on {branch}", "body": "By dursor", "head": branch, "base": "main"}
        created = await self.api.post(f"/api/v3/repos/{REPO}/pulls", json=body)
        assert created.status_code == 201, created.text
        pull: dict[str, Any] = created.json()
        return pull

    async def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        """A GraphQL call with the installation token."""
        answer = await self.api.post("/api/graphql", json={"query": query, "variables": variables})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


def assert_shape(schema: dict[str, Any], document: Any) -> None:
    """The document satisfies the schema; every violation is listed otherwise."""
    errors = [str(e) for e in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, errors


def receiver(received: list[Received]) -> Starlette:
    """A webhook endpoint that records every delivery and answers 202."""

    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        received.append(
            Received(
                headers["x-github-event"],
                headers["x-github-delivery"],
                headers.get("x-hub-signature-256", ""),
                body,
                await request.json(),
            )
        )
        return Response(status_code=202)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@contextlib.asynccontextmanager
async def github_world(tmp_path: Path) -> AsyncIterator[World]:
    """The stand-in with `acme/widgets` (main holds app.py), its webhooks sent to a receiver."""
    port, hook_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    github = GitHubRepos(
        tmp_path / "github",
        token_ok=lambda token, repo: (token, repo) == (TOKEN, REPO),
        installations={REPO: 7},
        collaborators={REPO: {"octo": "write", "rita": "read", "mona": "admin"}},
        public_url=url,
    )
    (tmp_path / "github" / "acme").mkdir(parents=True)
    shutil.move(str(make_remote(tmp_path / "seed", {"app.py": APP_PY})), github.repo_path(REPO))
    work = tmp_path / "work"
    git("clone", "-q", str(github.repo_path(REPO)), str(work), cwd=tmp_path)
    github.hooks.configure(f"http://127.0.0.1:{hook_port}/hook", SECRET)
    headers = {"authorization": f"Bearer {TOKEN}", "accept": "application/vnd.github+json"}
    received: list[Received] = []
    async with (
        serve(github.app(), port),
        serve(receiver(received), hook_port),
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api,
    ):
        yield World(github, api, url, work, received)
