"""Request and response bodies of users and their roles."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from auth_service.users.repository import UserRow
from dursor_kit.auth.verifier import Role
from dursor_kit.web.request_bodies import RequestBody


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
