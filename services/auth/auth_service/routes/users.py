"""Users and their roles (Admin only): local accounts and bindings for Entra identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from sqlalchemy.engine import Row

from auth_service.passwords import hash_password
from auth_service.users import insert_user, list_users, set_role
from dursor_contracts.auth import Role
from dursor_contracts.pagination import DEFAULT_LIMIT, MAX_LIMIT, next_cursor
from dursor_contracts.problems import conflict, not_found, problem_responses
from dursor_contracts.web import Admin

router = APIRouter(prefix="/v1/users", tags=["users"])
ADMIN_ONLY = problem_responses(401, 403, 422)


class UserCreate(BaseModel):
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


class RoleChange(BaseModel):
    """The role to bind."""

    model_config = ConfigDict(extra="forbid")

    role: Role


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


def user_out(row: Row[Any]) -> UserOut:
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
    values = {
        "issuer": issuer,
        "subject": body.subject or str(uuid4()),
        "username": body.username,
        "display_name": body.display_name or body.username,
        "role": body.role.value,
        "password_hash": hash_password(body.password.get_secret_value()) if body.password else None,
    }
    async with request.app.state.engine.begin() as conn:
        row = await insert_user(conn, values)
    if row is None:
        raise conflict(f"user {body.username} or that identity already exists")
    return user_out(row)


@router.put(
    "/{user_id}/role", response_model=UserOut, responses=ADMIN_ONLY | problem_responses(404, 413)
)
async def change_role(user_id: UUID, body: RoleChange, request: Request, _: Admin) -> UserOut:
    """Bind the user to another role (effective at once for tokens without a role claim)."""
    async with request.app.state.engine.begin() as conn:
        row = await set_role(conn, user_id, body.role)
    if row is None:
        raise not_found("user", user_id)
    return user_out(row)
