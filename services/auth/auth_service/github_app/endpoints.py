"""GitHub App operations for other apps (Dapr invocation only; the ACL allows nothing else).

agent-runner asks for installation tokens; run-api asks whether a review commenter may
write to the repository before their comment becomes a follow-up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from auth_service.github_app.schemas import (
    PermissionAnswer,
    PermissionRequest,
    TokenAnswer,
    TokenRequest,
)
from auth_service.github_app.service import GitHubApp
from dursor_kit.errors import ProblemError
from dursor_kit.web.security import sidecar_router

router = sidecar_router("/internal/github")
TOKEN_CALLER = "agent-runner"  # noqa: S105 - an app id
PERMISSION_CALLER = "run-api"


@router.post("/installation-token", response_model=TokenAnswer)
async def installation_token(
    body: TokenRequest,
    request: Request,
    dapr_caller_app_id: Annotated[str | None, Header()] = None,
) -> TokenAnswer:
    """Mint (or reuse) a token for one repository; only agent-runner may ask."""
    _only(TOKEN_CALLER, dapr_caller_app_id)
    app: GitHubApp = request.app.state.github_app
    minted = await app.token_for(body.repo_url)
    return TokenAnswer(token=minted.token, expires_at=minted.expires_at)


@router.post("/permission", response_model=PermissionAnswer)
async def commenter_permission(
    body: PermissionRequest,
    request: Request,
    dapr_caller_app_id: Annotated[str | None, Header()] = None,
) -> PermissionAnswer:
    """A user's permission on a repository, from GitHub (cached briefly); only run-api asks."""
    _only(PERMISSION_CALLER, dapr_caller_app_id)
    app: GitHubApp = request.app.state.github_app
    return PermissionAnswer(permission=await app.permission_of(body.repo_url, body.login))


def _only(caller: str, presented: str | None) -> None:
    if presented != caller:
        # Defence in depth: Dapr's access control already refuses other callers. The
        # header is trustworthy: the router's dependency checked the sidecar's token.
        raise ProblemError(403, "forbidden", "Forbidden", f"only {caller} may call this")
