"""May a GitHub user write to a repository? Asked of auth, which holds the GitHub App.

A review comment becomes a follow-up (an agent run with the commenter's instruction)
only when its author has write permission on the repository: `author_association`
alone also admits read-only collaborators and organisation members.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import structlog

from dursor_kit.errors import Unavailable
from dursor_kit.sidecar import Sidecar, SidecarError

log = structlog.get_logger(__name__)

PERMISSION_OPERATION = "/internal/github/permission"
# GitHub's base permissions that include pushing (`maintain` is reported as `write`).
WRITE_PERMISSIONS = frozenset({"admin", "write"})

# (repository URL, GitHub login) -> may the user write to the repository?
WriteAccess = Callable[[str, str], Awaitable[bool]]


def unavailable(detail: str) -> Unavailable:
    """The permission could not be learnt (auth or GitHub did not answer)."""
    return Unavailable(detail, code="permission-unavailable")


class AuthServiceWriteAccess:
    """`WriteAccess` through auth's GitHub App (which caches answers in the state store)."""

    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    async def __call__(self, repo_url: str, login: str) -> bool:
        """True when GitHub says `login` may push to `repo_url`."""
        try:
            response = await self._sidecar.invoke(
                "auth",
                "POST",
                PERMISSION_OPERATION,
                headers={"content-type": "application/json"},
                content=json.dumps({"repo_url": repo_url, "login": login}).encode(),
            )
        except SidecarError as exc:
            raise unavailable(f"auth is unreachable: {exc}") from exc
        if response.status_code != 200:
            log.warning("permission check failed", status=response.status_code, login=login)
            raise unavailable(f"the permission of {login} could not be checked")
        return str(response.json().get("permission")) in WRITE_PERMISSIONS
