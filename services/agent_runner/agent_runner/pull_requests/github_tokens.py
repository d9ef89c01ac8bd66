"""Repository-scoped GitHub installation tokens, asked from the auth service through Dapr."""

from __future__ import annotations

import json

from agent_runner.pull_requests.github import GitHubError
from dursor_kit.sidecar import Sidecar, SidecarError

TOKEN_OPERATION = "/internal/github/installation-token"  # noqa: S105 - a route


class AuthServiceTokens:
    """`TokenSource` backed by auth's GitHub App (which caches tokens in the state store)."""

    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    async def __call__(self, repo_url: str) -> str:
        """An installation token that may push to `repo_url` only."""
        try:
            response = await self._sidecar.invoke(
                "auth",
                "POST",
                TOKEN_OPERATION,
                headers={"content-type": "application/json"},
                content=json.dumps({"repo_url": repo_url}).encode(),
            )
        except SidecarError as exc:
            raise GitHubError(503, f"auth is unreachable: {exc}", retryable=True) from exc
        if response.status_code != 200:
            detail = response.json().get("detail", response.text) if response.content else ""
            raise GitHubError(
                response.status_code,
                f"no installation token: {detail}",
                retryable=response.status_code >= 500,
            )
        token: str = response.json()["token"]
        return token
