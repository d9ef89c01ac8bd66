"""Personal API tokens for scripts and CI: scoped to a role, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from auth_service.api_tokens import TokenRow, insert_token, revoke, tokens_of
from auth_service.users import UserRow, ensure_bound
from dursor_kit.auth.verifier import Principal, Role, forbidden
from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import not_found, problem_responses
from dursor_kit.web.request_bodies import RequestBody
from dursor_kit.web.security import Viewer

router = APIRouter(prefix="/v1/tokens", tags=["api tokens"])


class TokenCreate(RequestBody):
    """A name, a role no higher than yours, and a lifetime."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "ci", "role": "developer", "expires_in_days": 30}]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    role: Role | None = None
    expires_in_days: int = Field(default=30, ge=1, le=365)


class TokenOut(BaseModel):
    """An API token's record (the token itself is shown once, at creation)."""

    id: UUID
    name: str
    role: Role
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


class TokenCreated(TokenOut):
    """The new token: keep it, it is not shown again."""

    token: str


def token_out(row: TokenRow) -> TokenOut:
    """The public view of a token row."""
    return TokenOut.model_validate(row, from_attributes=True)


async def _owner(request: Request, principal: Principal) -> UserRow:
    async with request.app.state.engine.begin() as conn:
        return await ensure_bound(conn, principal)


@router.post(
    "",
    status_code=201,
    response_model=TokenCreated,
    responses=problem_responses(401, 403, 413, 422),
)
async def create_token(body: TokenCreate, request: Request, principal: Viewer) -> TokenCreated:
    """A token with your role or a lower one; a higher one cannot be granted.

    Only a signed-in user mints API tokens: an API token cannot mint more (a leaked one
    cannot outlive its own revocation through children).
    """
    if principal.api_token_id is not None:
        raise ProblemError(
            403,
            "api-token-cannot-mint",
            "Forbidden",
            "API tokens cannot create API tokens; sign in to create one",
        )
    role = body.role or principal.role
    if not principal.role.allows(role):
        raise forbidden(role)
    owner = await _owner(request, principal)
    token_id = uuid4()
    lifetime = timedelta(days=body.expires_in_days)
    token = await request.app.state.issuer.mint_api_token(
        principal.subject, principal.username, role, str(token_id), int(lifetime.total_seconds())
    )
    async with request.app.state.engine.begin() as conn:
        row = await insert_token(
            conn, token_id, owner.id, body.name, role.value, token, datetime.now(UTC) + lifetime
        )
    return TokenCreated(**token_out(row).model_dump(), token=token)


@router.get("", response_model=list[TokenOut], responses=problem_responses(401, 403))
async def list_tokens(request: Request, principal: Viewer) -> list[TokenOut]:
    """Your tokens (never their values)."""
    owner = await _owner(request, principal)
    async with request.app.state.engine.connect() as conn:
        return [token_out(r) for r in await tokens_of(conn, owner.id)]


@router.delete(
    "/{token_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_token(token_id: UUID, request: Request, principal: Viewer) -> Response:
    """Revoke one of your tokens (an Admin may revoke anyone's); effective at once."""
    owner = await _owner(request, principal)
    scope = None if principal.role is Role.ADMIN else owner.id
    async with request.app.state.engine.begin() as conn:
        revoked = await revoke(conn, token_id, scope)
    if revoked is None:
        raise not_found("token", token_id)
    return Response(status_code=204)
