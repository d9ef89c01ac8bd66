"""Users and their roles (Admin only): local accounts and bindings for Entra identities."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request

from auth_service.passwords import PasswordHashing
from auth_service.users.repository import (
    insert_user,
    list_users,
    set_disabled,
    set_role,
    user_by_id,
)
from auth_service.users.schemas import (
    DisabledChange,
    RoleChange,
    UserCreate,
    UserOut,
    UsersPage,
    user_out,
)
from auth_service.users.service import is_caller, keep_an_admin
from dursor_kit.auth.verifier import Role
from dursor_kit.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, next_cursor
from dursor_kit.web.problems import conflict, not_found, problem_responses
from dursor_kit.web.security import Admin
from dursor_kit.web.transactions import Tx

router = APIRouter(prefix="/v1/users", tags=["users"])
ADMIN_ONLY = problem_responses(401, 403, 422)


@router.get("", response_model=UsersPage, responses=ADMIN_ONLY | problem_responses(400))
async def get_users(
    _: Admin,
    tx: Tx,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> UsersPage:
    """Every user, newest first."""
    rows = await list_users(tx.conn, cursor, limit)
    return UsersPage(
        items=[user_out(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit)
    )


@router.post(
    "", status_code=201, response_model=UserOut, responses=ADMIN_ONLY | problem_responses(409, 413)
)
async def create_user(body: UserCreate, request: Request, _: Admin, tx: Tx) -> UserOut:
    """Create a local user, or bind a role to an external (Entra ID) identity."""
    issuer = body.issuer or request.app.state.issuer.issuer
    passwords: PasswordHashing = request.app.state.passwords
    values = {
        "issuer": issuer,
        "subject": body.subject or str(uuid4()),
        "username": body.username,
        "display_name": body.display_name or body.username,
        "role": body.role.value,
        "password_hash": (
            await passwords.hash(body.password.get_secret_value()) if body.password else None
        ),
    }
    row = await insert_user(tx.conn, values)
    if row is None:
        raise conflict(f"user {body.username} or that identity already exists")
    return user_out(row)


@router.put(
    "/{user_id}/role",
    response_model=UserOut,
    responses=ADMIN_ONLY | problem_responses(404, 409, 413),
)
async def change_role(user_id: UUID, body: RoleChange, _: Admin, tx: Tx) -> UserOut:
    """Bind the user to another role: it caps every token of the user within seconds."""
    if body.role is not Role.ADMIN:
        await keep_an_admin(tx.conn, user_id)
    row = await set_role(tx.conn, user_id, body.role)
    if row is None:
        raise not_found("user", user_id)
    return user_out(row)


@router.put(
    "/{user_id}/disabled",
    response_model=UserOut,
    responses=ADMIN_ONLY | problem_responses(404, 409, 413),
)
async def change_disabled(user_id: UUID, body: DisabledChange, admin: Admin, tx: Tx) -> UserOut:
    """Disable a user (every token of theirs, API tokens too, is refused) or enable them."""
    target = await user_by_id(tx.conn, user_id)
    if target is None:
        raise not_found("user", user_id)
    if body.disabled and is_caller(target, admin):
        raise conflict("you cannot disable yourself")
    if body.disabled:
        await keep_an_admin(tx.conn, user_id)
    row = await set_disabled(tx.conn, user_id, body.disabled)
    assert row is not None
    return user_out(row)
