"""GitHub App installation tokens, scoped to one repository and shared by every replica.

A token is minted from the App's private key (secret store) through GitHub's API, then
cached in the Dapr state store (Redis) with a TTL that ends well before the token
expires, so replicas reuse it instead of minting one each. Works against github.com and
GitHub Enterprise Server (configurable API base URL).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import structlog

from dursor_kit.errors import ProblemError
from dursor_kit.secret_names import GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY
from dursor_kit.sidecar import Sidecar, SidecarError
from dursor_kit.web.problems import bad_request

log = structlog.get_logger(__name__)

STATE_STORE = "statestore"
# Tokens live an hour; a cached one is dropped this long before it expires.
EXPIRY_MARGIN_SECONDS = 300
APP_JWT_SECONDS = 540

SecretReader = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class InstallationToken:
    """A repository-scoped token and when GitHub expires it."""

    token: str
    expires_at: datetime


def repository_of(repo_url: str, github_hosts: list[str]) -> str:
    """owner/name of a repository URL on a configured GitHub host, or a 400."""
    parts = urlsplit(repo_url)
    path = parts.path.strip("/").removesuffix(".git").split("/")
    if parts.netloc.lower() not in {h.lower() for h in github_hosts} or len(path) < 2:
        raise bad_request(
            "not-a-github-repository",
            f"{repo_url} is not a repository on a configured GitHub host",
            "repo_url",
        )
    return "/".join(path[-2:])


def app_jwt(app_id: str, private_key_pem: str, now: float) -> str:
    """The short-lived JWT that authenticates as the App itself (RS256, issuer = app id)."""
    claims = {"iat": int(now) - 60, "exp": int(now) + APP_JWT_SECONDS, "iss": app_id}
    return jwt.encode(claims, private_key_pem, algorithm="RS256")


class GitHubApp:
    """Mints and caches installation tokens for the App configured in the secret store."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sidecar: Sidecar,
        secrets: SecretReader,
        api_url: str,
        github_hosts: list[str],
        permission_ttl_seconds: int = 60,
    ) -> None:
        self._http = http
        self._sidecar = sidecar
        self._secrets = secrets
        self._api = api_url.rstrip("/")
        self._hosts = github_hosts
        self._permission_ttl = permission_ttl_seconds

    async def token_for(self, repo_url: str) -> InstallationToken:
        """A token that can push to `repo_url`: from the shared cache, else freshly minted."""
        repository = repository_of(repo_url, self._hosts)
        key = _cache_key(self._api, repository)
        cached = await self._sidecar.get_state(STATE_STORE, key)
        if cached is not None:
            return InstallationToken(
                cached.value["token"], datetime.fromisoformat(cached.value["expires_at"])
            )
        minted = await self._mint(repository)
        ttl = int(minted.expires_at.timestamp() - time.time()) - EXPIRY_MARGIN_SECONDS
        if ttl > 0:
            await self._sidecar.save_state(
                STATE_STORE,
                key,
                {"token": minted.token, "expires_at": minted.expires_at.isoformat()},
                ttl_seconds=ttl,
            )
        return minted

    async def permission_of(self, repo_url: str, login: str) -> str:
        """A user's permission on the repository (`admin`, `write`, `read` or `none`).

        Asked with the repository's installation token and cached briefly in the state
        store, so a burst of review comments costs one GitHub call per commenter.
        """
        repository = repository_of(repo_url, self._hosts)
        key = _cache_key(self._api, f"{repository}|{login.lower()}", "github-permission-")
        cached = await self._sidecar.get_state(STATE_STORE, key)
        if cached is not None:
            return str(cached.value["permission"])
        token = await self.token_for(repo_url)
        try:
            body = await self._call(
                "GET", f"/repos/{repository}/collaborators/{login}/permission", token.token
            )
            permission = str(body.get("permission") or "none")
        except ProblemError as exc:
            if exc.status != 404:  # 404: no such user (or none GitHub shows the App)
                raise
            permission = "none"
        await self._sidecar.save_state(
            STATE_STORE, key, {"permission": permission}, ttl_seconds=self._permission_ttl
        )
        return permission

    async def _mint(self, repository: str) -> InstallationToken:
        try:
            app_id = await self._secrets(GITHUB_APP_ID)
            private_key = await self._secrets(GITHUB_APP_PRIVATE_KEY)
        except SidecarError as exc:
            raise ProblemError(
                503,
                "github-app-not-configured",
                "Service Unavailable",
                "no GitHub App is configured in the secret store",
            ) from exc
        bearer = app_jwt(app_id, private_key, time.time())
        installation = await self._call("GET", f"/repos/{repository}/installation", bearer)
        body = await self._call(
            "POST",
            f"/app/installations/{installation['id']}/access_tokens",
            bearer,
            {"repositories": [repository.split("/", 1)[1]]},
        )
        log.info("minted installation token", repository=repository)
        expires = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
        return InstallationToken(body["token"], expires.astimezone(UTC))

    async def _call(self, method: str, path: str, bearer: str, json: Any = None) -> dict[str, Any]:
        response = await self._http.request(
            method,
            f"{self._api}{path}",
            json=json,
            timeout=15.0,
            headers={
                "authorization": f"Bearer {bearer}",
                "accept": "application/vnd.github+json",
                "x-github-api-version": "2022-11-28",
            },
        )
        if response.status_code >= 400:
            message = response.json().get("message", "") if response.content else ""
            status = 404 if response.status_code == 404 else 502
            raise ProblemError(
                status,
                "github-app",
                "GitHub App",
                f"GitHub answered {response.status_code} for {path}: {message}",
            )
        result: dict[str, Any] = response.json()
        return result


def _cache_key(api: str, repository: str, prefix: str = "github-token-") -> str:
    # The API base is part of the key: github.com and a GHES host may share repo names.
    return prefix + hashlib.sha256(f"{api}|{repository}".encode()).hexdigest()[:32]
