"""Local issuer endpoints: discovery, JWKS, password tokens, and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from auth_service.oidc.schemas import Me, TokenRequest, TokenResponse
from auth_service.oidc.service import LocalIssuer
from auth_service.passwords import PasswordHashing
from auth_service.users.repository import user_by_username
from dursor_kit.auth.verifier import Role, unauthorized
from dursor_kit.web.problems import problem_responses
from dursor_kit.web.security import Viewer

router = APIRouter(tags=["auth"])


def _issuer(request: Request) -> LocalIssuer:
    issuer: LocalIssuer = request.app.state.issuer
    return issuer


Issuer = Annotated[LocalIssuer, Depends(_issuer)]


@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def discovery(issuer: Issuer) -> dict[str, Any]:
    """OpenID Provider metadata."""
    return issuer.discovery()


@router.get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(issuer: Issuer) -> dict[str, Any]:
    """Public keys that verify this issuer's tokens."""
    return await issuer.jwks()


@router.post(
    "/v1/auth/token", response_model=TokenResponse, responses=problem_responses(401, 413, 422)
)
async def token(body: TokenRequest, request: Request, issuer: Issuer) -> TokenResponse:
    """Local mode only: exchange a username and password for a signed access token."""
    async with request.app.state.engine.connect() as conn:
        user = await user_by_username(conn, issuer.issuer, body.username)
    passwords: PasswordHashing = request.app.state.passwords
    password_ok = await passwords.verify(
        user.password_hash if user else None, body.password.get_secret_value()
    )
    if user is None or not password_ok or user.disabled:
        raise unauthorized("unknown user or wrong password")
    access_token, ttl = await issuer.mint(user.subject, user.username, Role(user.role))
    return TokenResponse(access_token=access_token, expires_in=ttl)


@router.get("/v1/me", response_model=Me, responses=problem_responses(401, 403))
async def me(principal: Viewer) -> Me:
    """The caller and their role."""
    return Me(
        subject=principal.subject,
        username=principal.username,
        issuer=principal.issuer,
        role=principal.role,
    )
