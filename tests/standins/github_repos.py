"""A local stand-in for the parts of GitHub a run's pull request touches.

It serves real git over smart HTTP (`git http-backend` on bare repositories, pushes
need an installation token as `x-access-token` basic auth, like github.com) and the
REST endpoints dursor calls, with GitHub's status codes, rate-limit headers, ETags
and 304s, under a GitHub Enterprise Server layout (`/api/v3`). Tests steer CI results,
rate limiting and failures through `/_control/*` and read every call back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

RATE_LIMIT = 5000
TokenCheck = Callable[[str, str], bool]
# A repository role -> GitHub's legacy base permission (`permission`) and the
# `permissions` hash: maintain is reported as write, triage as read.
ROLE_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
ROLE_ORDER = ("read", "triage", "write", "maintain", "admin")
PERMISSION_FLAGS = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain"}


@dataclass
class PullState:
    """One pull request of the stand-in."""

    number: int
    title: str
    body: str
    head: str
    base: str
    state: str = "open"
    merged: bool = False


@dataclass
class GitHubRepos:
    """State of the stand-in: repositories, pull requests, CI results, recorded calls."""

    root: Path
    token_ok: TokenCheck | None = None
    # The GitHub App: its id, its public key and the repositories it is installed on.
    app_id: str = "4242"
    app_public_key: str | None = None
    installations: dict[str, int] = field(default_factory=dict)
    issued: dict[str, tuple[str, float]] = field(default_factory=dict)
    pulls: dict[str, list[PullState]] = field(default_factory=dict)
    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    remaining: int = RATE_LIMIT
    reset_at: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    # Repository -> login -> role (admin, maintain, write, triage, read); others: none.
    collaborators: dict[str, dict[str, str]] = field(default_factory=dict)

    def repo_path(self, full_name: str) -> Path:
        """Where a repository's bare git directory lives."""
        return self.root / f"{full_name}.git"

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        """The commit a branch points at, or None if it does not exist."""
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.repo_path(full_name),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() or None

    def app(self) -> Starlette:
        """The ASGI app serving git and the API."""
        return Starlette(
            routes=[
                Route("/{owner}/{name}.git/{rest:path}", self.git_http, methods=["GET", "POST"]),
                Route(
                    "/api/v3/repos/{owner}/{name}/pulls",
                    self.list_or_create_pulls,
                    methods=["GET", "POST"],
                ),
                Route(
                    "/api/v3/repos/{owner}/{name}/pulls/{number:int}",
                    self.get_or_update_pull,
                    methods=["GET", "PATCH"],
                ),
                Route("/api/v3/repos/{owner}/{name}/commits/{sha}/check-runs", self.check_runs),
                Route("/api/v3/repos/{owner}/{name}/commits/{sha}/status", self.combined_status),
                Route("/api/v3/repos/{owner}/{name}/installation", self.repo_installation),
                Route(
                    "/api/v3/repos/{owner}/{name}/collaborators/{username}/permission",
                    self.collaborator_permission,
                ),
                Route(
                    "/api/v3/app/installations/{installation:int}/access_tokens",
                    self.create_access_token,
                    methods=["POST"],
                ),
                Route("/_control/ci", self.set_ci, methods=["POST"]),
                Route("/_control/rate-limit", self.set_rate_limit, methods=["POST"]),
                Route("/_control/fail", self.add_failure, methods=["POST"]),
                Route(
                    "/_control/pulls/{owner}/{name}/{number:int}",
                    self.set_pull_state,
                    methods=["POST"],
                ),
            ]
        )

    def valid_token(self, token: str, full_name: str) -> bool:
        """An installation token issued for this repository and not expired (or a test's)."""
        if self.token_ok is not None and self.token_ok(token, full_name):
            return True
        repo, expires = self.issued.get(token, ("", 0.0))
        return repo == full_name and time.time() < expires

    # --- the GitHub App --------------------------------------------------------------

    def _app_jwt_ok(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.app_public_key is None:
            return False
        try:
            claims = jwt.decode(token, self.app_public_key, algorithms=["RS256"])
        except jwt.InvalidTokenError:
            return False
        return str(claims.get("iss")) == self.app_id

    async def repo_installation(self, request: Request) -> Response:
        """The App's installation on a repository (App JWT required)."""
        if not self._app_jwt_ok(request):
            return self._json(request, 401, {"message": "A JSON web token could not be decoded"})
        installation = self.installations.get(_full_name(request))
        if installation is None:
            return self._json(request, 404, {"message": "Not Found"})
        return self._json(
            request, 200, {"id": installation, "account": {"login": request.path_params["owner"]}}
        )

    async def create_access_token(self, request: Request) -> Response:
        """A one-hour token for the listed repositories of an installation (201)."""
        if not self._app_jwt_ok(request):
            return self._json(request, 401, {"message": "A JSON web token could not be decoded"})
        installation = request.path_params["installation"]
        names = (await request.json()).get("repositories", [])
        owned = [r for r, i in self.installations.items() if i == installation]
        chosen = [r for r in owned if r.split("/", 1)[1] in names]
        if len(chosen) != 1:
            return self._json(
                request,
                422,
                {
                    "message": "There is at least one repository "
                    "that does not exist or is not accessible"
                },
            )
        token = "ghs_" + secrets.token_urlsafe(27)
        expires = time.time() + 3600
        self.issued[token] = (chosen[0], expires)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return self._json(
            request,
            201,
            {"token": token, "expires_at": stamp, "repositories": [{"full_name": chosen[0]}]},
        )

    # --- git over smart HTTP -------------------------------------------------------

    async def git_http(self, request: Request) -> Response:
        """`git http-backend`; pushes (receive-pack) need a token for this repository."""
        full_name = f"{request.path_params['owner']}/{request.path_params['name']}"
        service = request.query_params.get("service", request.path_params["rest"])
        if "receive-pack" in service and not self._basic_token_ok(request, full_name):
            return Response(
                "Authentication failed",
                status_code=401,
                headers={"www-authenticate": 'Basic realm="GitHub"'},
            )
        body = await request.body()
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{full_name}.git/{request.path_params['rest']}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token",
            "PATH": os.environ["PATH"],
        }
        process = await asyncio.create_subprocess_exec(
            "git",
            "-c",
            "http.receivepack=true",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(body)
        return _cgi_response(out)

    def _basic_token_ok(self, request: Request, full_name: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        return user == "x-access-token" and self.valid_token(token, full_name)

    # --- REST API ------------------------------------------------------------------

    def _gate(self, request: Request, full_name: str) -> Response | None:
        """Auth, injected failures and the rate limit, as GitHub answers them."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not self.valid_token(token, full_name):
            return self._json(request, 401, {"message": "Bad credentials"})
        for failure in self.failures:
            if failure["method"] == request.method and request.url.path.endswith(failure["path"]):
                self.failures.remove(failure)
                return self._json(
                    request,
                    failure["status"],
                    {"message": failure["message"]},
                    failure.get("headers", {}),
                )
        if self.remaining <= 0 and self.reset_at and time.time() < self.reset_at:
            return self._json(request, 403, {"message": "API rate limit exceeded"})
        return None

    def _json(
        self, request: Request, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        self._count()
        self.calls.append((request.method, request.url.path, status))
        limit_headers = {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(self.reset_at or time.time() + 3600)),
            "x-github-api-version-selected": "2022-11-28",
        }
        return JSONResponse(body, status_code=status, headers=limit_headers | (headers or {}))

    def _count(self) -> None:
        """Every answer but a 304 uses one request of the hourly budget."""
        if self.reset_at and time.time() >= self.reset_at:
            self.remaining, self.reset_at = RATE_LIMIT, 0.0
        self.remaining = max(self.remaining - 1, 0)

    async def list_or_create_pulls(self, request: Request) -> Response:
        """GET lists (filtered by head and state); POST opens a PR."""
        full_name = _full_name(request)
        if (refused := self._gate(request, full_name)) is not None:
            return refused
        pulls = self.pulls.setdefault(full_name, [])
        if request.method == "GET":
            head = request.query_params.get("head", "").partition(":")[2]
            state = request.query_params.get("state", "open")
            found = [p for p in pulls if (not head or p.head == head) and p.state == state]
            return self._json(request, 200, [self._pull_json(full_name, p) for p in found])
        body = await request.json()
        if self.branch_sha(full_name, body["head"]) is None:
            return self._json(
                request,
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                },
            )
        if any(p.head == body["head"] and p.state == "open" for p in pulls):
            return self._json(
                request,
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"message": f"A pull request already exists for {body['head']}."}],
                },
            )
        pull = PullState(
            len(pulls) + 1, body["title"], body.get("body", ""), body["head"], body["base"]
        )
        pulls.append(pull)
        return self._json(request, 201, self._pull_json(full_name, pull))

    async def get_or_update_pull(self, request: Request) -> Response:
        """GET a PR; PATCH its title and body."""
        full_name = _full_name(request)
        if (refused := self._gate(request, full_name)) is not None:
            return refused
        pull = self._pull(full_name, request.path_params["number"])
        if pull is None:
            return self._json(request, 404, {"message": "Not Found"})
        if request.method == "PATCH":
            body = await request.json()
            pull.title, pull.body = body.get("title", pull.title), body.get("body", pull.body)
        return self._json(request, 200, self._pull_json(full_name, pull))

    async def check_runs(self, request: Request) -> Response:
        """Check runs of a commit, with ETag / If-None-Match."""
        runs = self.checks.get(request.path_params["sha"], [])
        return self._conditional(request, {"total_count": len(runs), "check_runs": runs})

    async def combined_status(self, request: Request) -> Response:
        """Combined commit status, with ETag / If-None-Match."""
        statuses = self.statuses.get(request.path_params["sha"], [])
        state = (
            "pending"
            if not statuses
            else ("success" if all(s["state"] == "success" for s in statuses) else "failure")
        )
        return self._conditional(request, {"state": state, "statuses": statuses})

    async def collaborator_permission(self, request: Request) -> Response:
        """A user's permission on the repository, in GitHub's shape (legacy base role,
        full role name, and the user with a `permissions` hash)."""
        full_name = _full_name(request)
        if (refused := self._gate(request, full_name)) is not None:
            return refused
        login = request.path_params["username"]
        role = self.collaborators.get(full_name, {}).get(login, "none")
        rank = ROLE_ORDER.index(role) if role in ROLE_ORDER else -1
        flags = {
            flag: rank >= ROLE_ORDER.index(needed) for flag, needed in PERMISSION_FLAGS.items()
        }
        user = {
            "login": login,
            "id": int(hashlib.sha256(login.encode()).hexdigest()[:7], 16),
            "type": "User",
            "site_admin": False,
            "permissions": flags | {"admin": role == "admin"},
            "role_name": role,
        }
        return self._json(
            request, 200, {"permission": ROLE_PERMISSION[role], "role_name": role, "user": user}
        )

    def _conditional(self, request: Request, body: dict[str, Any]) -> Response:
        if (refused := self._gate(request, _full_name(request))) is not None:
            return refused
        etag = '"' + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'  # noqa: S324
        if request.headers.get("if-none-match") == etag:
            self.calls.append((request.method, request.url.path, 304))
            return Response(status_code=304, headers={"etag": etag})
        return self._json(request, 200, body, {"etag": etag})

    def _pull(self, full_name: str, number: int) -> PullState | None:
        return next((p for p in self.pulls.get(full_name, []) if p.number == number), None)

    def _pull_json(self, full_name: str, pull: PullState) -> dict[str, Any]:
        return {
            "number": pull.number,
            "title": pull.title,
            "body": pull.body,
            "state": pull.state,
            "html_url": f"https://github.local/{full_name}/pull/{pull.number}",
            "merged_at": "2026-01-01T00:00:00Z" if pull.merged else None,
            "head": {"ref": pull.head, "sha": self.branch_sha(full_name, pull.head) or ""},
            "base": {"ref": pull.base},
        }

    # --- test controls -------------------------------------------------------------

    async def set_ci(self, request: Request) -> Response:
        """Replace the check runs and statuses of a commit."""
        body = await request.json()
        self.checks[body["sha"]] = body.get("check_runs", [])
        self.statuses[body["sha"]] = body.get("statuses", [])
        return JSONResponse({})

    async def set_rate_limit(self, request: Request) -> Response:
        """Exhaust (or restore) the rate limit until `reset_in` seconds from now."""
        body = await request.json()
        self.remaining = body["remaining"]
        self.reset_at = time.time() + body.get("reset_in", 0)
        return JSONResponse({})

    async def add_failure(self, request: Request) -> Response:
        """Answer the next matching call with a given status and message."""
        self.failures.append(await request.json())
        return JSONResponse({})

    async def set_pull_state(self, request: Request) -> Response:
        """Close or merge a PR from GitHub's side."""
        pull = self._pull(_full_name(request), request.path_params["number"])
        body = await request.json()
        if pull is not None:
            pull.state, pull.merged = body["state"], body.get("merged", False)
        return JSONResponse({})


def _full_name(request: Request) -> str:
    return f"{request.path_params['owner']}/{request.path_params['name']}"


def _cgi_response(output: bytes) -> Response:
    head, _, body = output.partition(b"\r\n\r\n")
    if not body and b"\n\n" in output:
        head, _, body = output.partition(b"\n\n")
    headers: dict[str, str] = {}
    status = 200
    for line in head.decode().splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return Response(body, status_code=status, headers=headers)
