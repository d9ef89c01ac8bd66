"""Users and their roles (Admin only): local accounts and bindings for Entra identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from auth_service.api_tokens import tokens_of
from auth_service.passwords import PasswordHashing
from auth_service.routes.tokens import TokenOut, token_out
from auth_service.users import (
    UserRow,
    insert_user,
    list_users,
    lock_active_admins,
    set_disabled,
    set_role,
    user_by_id,
)
from dursor_kit.auth.verifier import Principal, Role
from dursor_kit.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, next_cursor
from dursor_kit.web.problems import conflict, not_found, problem_responses
from dursor_kit.web.request_bodies import RequestBody
from dursor_kit.web.security import Admin

router = APIRouter(prefix="/v1/users", tags=["users"])
ADMIN_ONLY = problem_responses(401, 403, 422)


class UserCreate(RequestBody):
    """A local user (username + password) or a binding for an external identity."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"username": "ada", "password": "correct horse battery staple", "role": "developer"}
            ]
        },
    )

    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
    password: SecretStr | None = Field(default=None, min_length=12, max_length=1000)
    issuer: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_kind(self) -> UserCreate:
        """Exactly one of: a password (local) or issuer + subject (external)."""
        external = self.issuer is not None and self.subject is not None
        if (self.password is None) == (not external) or (
            (self.issuer is None) != (self.subject is None)
        ):
            raise ValueError("give a password (local user) or issuer and subject (binding)")
        return self


class RoleChange(RequestBody):
    """The role to bind."""

    model_config = ConfigDict(extra="forbid")

    role: Role


class DisabledChange(RequestBody):
    """Disable the user (every token of theirs is refused) or enable them again."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"disabled": True}]})

    disabled: bool


class UserOut(BaseModel):
    """A user, never with a password hash."""

    id: UUID
    username: str
    display_name: str
    role: Role
    issuer: str
    subject: str
    disabled: bool
    created_at: datetime


class UsersPage(BaseModel):
    """One page of users."""

    items: list[UserOut]
    next_cursor: str | None = None


def user_out(row: UserRow) -> UserOut:
    """The public view of a user row."""
    return UserOut.model_validate(row, from_attributes=True)


@router.get("", response_model=UsersPage, responses=ADMIN_ONLY | problem_responses(400))
async def get_users(
    request: Request,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> UsersPage:
    """Every user, newest first."""
    async with request.app.state.engine.connect() as conn:
        rows = await list_users(conn, cursor, limit)
    return UsersPage(
        items=[user_out(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit)
    )


@router.post(
    "", status_code=201, response_model=UserOut, responses=ADMIN_ONLY | problem_responses(409, 413)
)
async def create_user(body: UserCreate, request: Request, _: Admin) -> UserOut:
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
    async with request.app.state.engine.begin() as conn:
        row = await insert_user(conn, values)
    if row is None:
        raise conflict(f"user {body.username} or that identity already exists")
    return user_out(row)


@router.put(
    "/{user_id}/role",
    response_model=UserOut,
    responses=ADMIN_ONLY | problem_responses(404, 409, 413),
)
async def change_role(user_id: UUID, body: RoleChange, request: Request, _: Admin) -> UserOut:
    """Bind the user to another role: it caps every token of the user within seconds."""
    async with request.app.state.engine.begin() as conn:
        if body.role is not Role.ADMIN:
            await _keep_an_admin(conn, user_id)
        row = await set_role(conn, user_id, body.role)
    if row is None:
        raise not_found("user", user_id)
    return user_out(row)


@router.put(
    "/{user_id}/disabled",
    response_model=UserOut,
    responses=ADMIN_ONLY | problem_responses(404, 409, 413),
)
async def change_disabled(
    user_id: UUID, body: DisabledChange, request: Request, admin: Admin
) -> UserOut:
    """Disable a user (every token of theirs, API tokens too, is refused) or enable them."""
    async with request.app.state.engine.begin() as conn:
        target = await user_by_id(conn, user_id)
        if target is None:
            raise not_found("user", user_id)
        if body.disabled and _is_caller(target, admin):
            raise conflict("you cannot disable yourself")
        if body.disabled:
            await _keep_an_admin(conn, user_id)
        row = await set_disabled(conn, user_id, body.disabled)
    assert row is not None
    return user_out(row)


@router.get(
    "/{user_id}/tokens",
    response_model=list[TokenOut],
    responses=ADMIN_ONLY | problem_responses(404),
)
async def user_tokens(user_id: UUID, request: Request, _: Admin) -> list[TokenOut]:
    """A user's API tokens (never their values); revoke one with `DELETE /v1/tokens/{id}`."""
    async with request.app.state.engine.connect() as conn:
        if await user_by_id(conn, user_id) is None:
            raise not_found("user", user_id)
        return [token_out(r) for r in await tokens_of(conn, user_id)]


async def _keep_an_admin(conn: AsyncConnection, user_id: UUID) -> None:
    """Refuse a change that would leave no enabled Admin (nobody could undo it)."""
    if await lock_active_admins(conn) == {user_id}:
        raise conflict(
            "this is the last enabled Admin: make another user Admin first "
            "(operators: `python -m auth_service.restore_admin` when none is left)"
        )


def _is_caller(user: UserRow, principal: Principal) -> bool:
    return bool(user.issuer == principal.issuer and user.subject == principal.subject)
