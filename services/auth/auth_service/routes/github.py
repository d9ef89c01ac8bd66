"""Installation tokens for agent-runner (Dapr invocation only; the ACL allows nothing else)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Header, Request
from pydantic import BaseModel, Field

from auth_service.github_app import GitHubApp
from dursor_contracts.problems import ProblemError
from dursor_contracts.web import sidecar_router

router = sidecar_router("/internal/github")
TOKEN_CALLER = "agent-runner"  # noqa: S105 - an app id


class TokenRequest(BaseModel):
    """The repository the token must be scoped to."""

    repo_url: str = Field(min_length=1, max_length=2048)


class TokenAnswer(BaseModel):
    """A repository-scoped installation token."""

    token: str
    expires_at: datetime


@router.post("/installation-token", response_model=TokenAnswer)
async def installation_token(
    body: TokenRequest,
    request: Request,
    dapr_caller_app_id: Annotated[str | None, Header()] = None,
) -> TokenAnswer:
    """Mint (or reuse) a token for one repository; only agent-runner may ask."""
    if dapr_caller_app_id != TOKEN_CALLER:
        # Defence in depth: Dapr's access control already refuses other callers. The
        # header is trustworthy: the router's dependency checked the sidecar's token.
        raise ProblemError(403, "forbidden", "Forbidden", "only agent-runner may ask for tokens")
    app: GitHubApp = request.app.state.github_app
    minted = await app.token_for(body.repo_url)
    return TokenAnswer(token=minted.token, expires_at=minted.expires_at)
