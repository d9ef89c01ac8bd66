"""Personal API tokens for scripts and CI: scoped to a role, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, Response

from auth_service.tokens.repository import insert_token, revoke, tokens_of
from auth_service.tokens.schemas import TokenCreate, TokenCreated, TokenOut, token_out
from auth_service.users.repository import ensure_bound, user_by_id
from dursor_kit.auth.verifier import Role, forbidden
from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import not_found, problem_responses
from dursor_kit.web.security import Admin, Viewer
from dursor_kit.web.transactions import Tx

router = APIRouter(prefix="/v1/tokens", tags=["api tokens"])
# An Admin's view of someone's tokens lives with the tokens, under the users' path.
user_tokens_router = APIRouter(prefix="/v1/users", tags=["users"])


@router.post(
    "",
    status_code=201,
    response_model=TokenCreated,
    responses=problem_responses(401, 403, 413, 422),
)
async def create_token(
    body: TokenCreate, request: Request, principal: Viewer, tx: Tx
) -> TokenCreated:
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
    owner = await ensure_bound(tx.conn, principal)
    token_id = uuid4()
    lifetime = timedelta(days=body.expires_in_days)
    token = await request.app.state.issuer.mint_api_token(
        principal.subject, principal.username, role, str(token_id), int(lifetime.total_seconds())
    )
    row = await insert_token(
        tx.conn, token_id, owner.id, body.name, role.value, token, datetime.now(UTC) + lifetime
    )
    return TokenCreated(**token_out(row).model_dump(), token=token)


@router.get("", response_model=list[TokenOut], responses=problem_responses(401, 403))
async def list_tokens(principal: Viewer, tx: Tx) -> list[TokenOut]:
    """Your tokens (never their values)."""
    owner = await ensure_bound(tx.conn, principal)
    return [token_out(r) for r in await tokens_of(tx.conn, owner.id)]


@router.delete(
    "/{token_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_token(token_id: UUID, principal: Viewer, tx: Tx) -> Response:
    """Revoke one of your tokens (an Admin may revoke anyone's); effective at once."""
    owner = await ensure_bound(tx.conn, principal)
    scope = None if principal.role is Role.ADMIN else owner.id
    revoked = await revoke(tx.conn, token_id, scope)
    if revoked is None:
        raise not_found("token", token_id)
    return Response(status_code=204)


@user_tokens_router.get(
    "/{user_id}/tokens",
    response_model=list[TokenOut],
    responses=problem_responses(401, 403, 404, 422),
)
async def user_tokens(user_id: UUID, _: Admin, tx: Tx) -> list[TokenOut]:
    """A user's API tokens (never their values); revoke one with `DELETE /v1/tokens/{id}`."""
    if await user_by_id(tx.conn, user_id) is None:
        raise not_found("user", user_id)
    return [token_out(r) for r in await tokens_of(tx.conn, user_id)]
