"""SQL of the agents room: reading a run's model profile (run-api owns the table's lifecycle)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_all, fetch_optional
from dursor_store.schema import model_profiles, repo_secrets


class ProfileKeyRow(TableRow):
    """What a run needs of its model profile: the provider, the model and the sealed key."""

    id: UUID
    provider: str
    model: str
    base_url: str | None
    key_id: str
    key_nonce: bytes
    key_ciphertext: bytes


async def live_profile(conn: AsyncConnection, profile_id: UUID) -> ProfileKeyRow | None:
    """The profile with this id, unless it is deleted."""
    return await fetch_optional(
        conn,
        select(
            model_profiles.c.id,
            model_profiles.c.provider,
            model_profiles.c.model,
            model_profiles.c.base_url,
            model_profiles.c.key_id,
            model_profiles.c.key_nonce,
            model_profiles.c.key_ciphertext,
        ).where(model_profiles.c.id == profile_id, model_profiles.c.deleted_at.is_(None)),
        ProfileKeyRow,
    )


class RepoSecretRow(TableRow):
    """A repository secret as the runner opens it."""

    name: str
    inject_into: list[str]
    key_id: str
    key_nonce: bytes
    key_ciphertext: bytes


async def repo_secret_rows(conn: AsyncConnection, repo_id: UUID) -> list[RepoSecretRow]:
    """Every secret of the repository, sealed."""
    return await fetch_all(
        conn,
        select(
            repo_secrets.c.name,
            repo_secrets.c.inject_into,
            repo_secrets.c.key_id,
            repo_secrets.c.key_nonce,
            repo_secrets.c.key_ciphertext,
        )
        .where(repo_secrets.c.repo_id == repo_id)
        .order_by(repo_secrets.c.name),
        RepoSecretRow,
    )
