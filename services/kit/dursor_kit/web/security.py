"""Who may call a route: a verified bearer token with a role, or this app's own sidecar."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dursor_kit.auth.verifier import Principal, Role, TokenVerifier, forbidden, unauthorized
from dursor_kit.errors import ProblemError

bearer_scheme = HTTPBearer(auto_error=False, description="JWT from the auth service or Entra ID")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The verified caller, or a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(credentials.credentials)
    request.state.principal = principal
    return principal


def require(role: Role) -> Any:
    """Dependency: the caller must hold `role` or a higher one."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.role.allows(role):
            raise forbidden(role)
        return principal

    return Depends(check)


Viewer = Annotated[Principal, require(Role.VIEWER)]
Developer = Annotated[Principal, require(Role.DEVELOPER)]
Admin = Annotated[Principal, require(Role.ADMIN)]


SIDECAR_TOKEN_HEADER = "dapr-api-token"  # noqa: S105 - a header name


async def from_own_sidecar(request: Request) -> None:
    """Dependency of every route only Dapr calls: this app's API token, or a 401.

    The sidecar presents `dapr-api-token: <APP_API_TOKEN>` on everything it forwards
    (deliveries, invocations, bindings), so a process that reaches the app's port directly
    cannot pose as the sidecar, nor set the `dapr-caller-app-id` the route then trusts.
    An app started without a token refuses every such call (fails closed).
    """
    expected: str | None = getattr(request.app.state, "app_api_token", None)
    presented = request.headers.get(SIDECAR_TOKEN_HEADER, "").encode()
    if not expected or not hmac.compare_digest(presented, expected.encode()):
        raise ProblemError(
            401, "unauthorized", "Unauthorized", "only this app's Dapr sidecar may call this route"
        )


FromOwnSidecar = Depends(from_own_sidecar)


def sidecar_router(prefix: str = "") -> APIRouter:
    """A router for routes only this app's sidecar calls; none appears in the OpenAPI."""
    return APIRouter(prefix=prefix, include_in_schema=False, dependencies=[FromOwnSidecar])
