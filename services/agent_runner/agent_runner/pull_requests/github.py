"""A small GitHub REST client: retries what GitHub asks to retry, fails fast on the rest.

Rate limits (429, or 403 with `x-ratelimit-remaining: 0` or `retry-after`) and 5xx are
retried with backoff, honouring `retry-after` / `x-ratelimit-reset`; other 4xx answers
(no permission, branch protection, validation) are permanent and end as `GitHubError`
with GitHub's message. Works against github.com and GitHub Enterprise Server (the API
base URL is configurable).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog

log = structlog.get_logger(__name__)

API_VERSION = "2022-11-28"
MAX_WAIT_SECONDS = 60.0


class GitHubError(Exception):
    """GitHub refused the request for good (or kept failing past every retry)."""

    def __init__(self, status: int, message: str, retryable: bool = False) -> None:
        super().__init__(f"GitHub answered {status}: {message}")
        self.status = status
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class PullRequest:
    """What dursor keeps of a GitHub pull request."""

    number: int
    url: str
    state: str
    head_sha: str
    merged: bool

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> PullRequest:
        """Parse GitHub's pull request object."""
        return cls(
            number=body["number"],
            url=body["html_url"],
            state=body["state"],
            head_sha=body["head"]["sha"],
            merged=bool(body.get("merged_at")),
        )


@dataclass(frozen=True)
class Conditional:
    """An answer to a conditional GET: None body when GitHub said 304 Not Modified."""

    body: Any
    etag: str | None


def retry_delay(response: httpx.Response, attempt: int, now: float) -> float | None:
    """Seconds to wait before retrying, or None when the answer is not retryable."""
    headers = response.headers
    if "retry-after" in headers and response.status_code in (403, 429, 503):
        return min(float(headers["retry-after"]), MAX_WAIT_SECONDS)
    if response.status_code in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
        reset = float(headers.get("x-ratelimit-reset", now + 1))
        return min(max(reset - now, 0.0) + 0.5, MAX_WAIT_SECONDS)
    if response.status_code == 429 or response.status_code >= 500:
        backoff: float = 0.5 * 2**attempt + random.uniform(0, 0.25)  # noqa: S311 - jitter
        return min(backoff, MAX_WAIT_SECONDS)
    return None


class GitHubClient:
    """Authenticated calls to one GitHub API with a repository-scoped token."""

    def __init__(
        self, http: httpx.AsyncClient, api_base: str, token: str, max_attempts: int = 5
    ) -> None:
        self._http = http
        self._api_base = api_base.rstrip("/")
        self._token = token
        self._max_attempts = max_attempts

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One API call with retries; returns the final 2xx/304 response."""
        for attempt in range(self._max_attempts):
            response = await self._send(method, path, json, params, headers or {})
            if response.status_code < 400:
                return response
            delay = retry_delay(response, attempt, time.time())
            if delay is None or attempt == self._max_attempts - 1:
                raise GitHubError(response.status_code, _message(response), delay is not None)
            log.warning("github asked to retry", status=response.status_code, wait=delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, str] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        base = {
            "authorization": f"Bearer {self._token}",
            "accept": "application/vnd.github+json",
            "x-github-api-version": API_VERSION,
        }
        return await self._http.request(
            method,
            f"{self._api_base}{path}",
            json=json,
            params=params,
            headers=base | headers,
            timeout=30.0,
        )

    async def open_pull_request(self, repo: str, head: str) -> PullRequest | None:
        """The open PR whose head is `head` on `repo` (owner/name), if any."""
        owner = repo.split("/", maxsplit=1)[0]
        response = await self.request(
            "GET", f"/repos/{repo}/pulls", params={"head": f"{owner}:{head}", "state": "open"}
        )
        found = response.json()
        return PullRequest.from_api(found[0]) if found else None

    async def create_pull_request(
        self, repo: str, title: str, body: str, head: str, base: str
    ) -> PullRequest:
        """Open a PR from `head` into `base`."""
        response = await self.request(
            "POST",
            f"/repos/{repo}/pulls",
            json={"title": title, "body": body, "head": head, "base": base},
        )
        return PullRequest.from_api(response.json())

    async def update_pull_request(
        self, repo: str, number: int, title: str, body: str
    ) -> PullRequest:
        """Rewrite an open PR's title and body."""
        response = await self.request(
            "PATCH", f"/repos/{repo}/pulls/{number}", json={"title": title, "body": body}
        )
        return PullRequest.from_api(response.json())

    async def pull_request(self, repo: str, number: int) -> PullRequest:
        """A PR's current state and head."""
        return PullRequest.from_api(
            (await self.request("GET", f"/repos/{repo}/pulls/{number}")).json()
        )

    async def conditional_get(self, path: str, etag: str | None) -> Conditional:
        """GET with If-None-Match, so an unchanged resource costs no rate limit."""
        headers = {"if-none-match": etag} if etag else {}
        response = await self.request("GET", path, headers=headers)
        if response.status_code == 304:
            return Conditional(None, etag)
        return Conditional(response.json(), response.headers.get("etag"))

    @staticmethod
    def checks_path(repo: str, sha: str) -> str:
        """Check runs of a commit."""
        return f"/repos/{repo}/commits/{quote(sha)}/check-runs"

    @staticmethod
    def status_path(repo: str, sha: str) -> str:
        """Combined commit status of a commit."""
        return f"/repos/{repo}/commits/{quote(sha)}/status"


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    errors = body.get("errors") if isinstance(body, dict) else None
    return f"{message} {errors}" if errors else message or response.reason_phrase
