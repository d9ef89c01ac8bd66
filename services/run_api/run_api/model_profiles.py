"""Model profiles: API keys sealed with AES-GCM under the ring's primary key, row id as AAD.

agent-runner opens a key with `context=str(profile_id).encode()`, so a ciphertext copied
onto another row does not decrypt. The plaintext exists only inside `create`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.auth.verifier import Principal
from dursor_kit.web.problems import not_found
from run_api.keyring import KeyRingSource
from run_api.model_profile_schemas import ModelProfileCreate, ModelProfileOut
from run_api.repositories import model_profiles as sql
from run_api.transactions import transaction

log = structlog.get_logger(__name__)


def sealing_context(profile_id: UUID) -> bytes:
    """The associated data every profile's key is sealed with (its row id)."""
    return str(profile_id).encode()


def profile_out(row: Row[Any]) -> ModelProfileOut:
    """The public view of a profile row (no key material)."""
    return ModelProfileOut(
        id=row.id,
        name=row.name,
        provider=row.provider,
        model=row.model,
        base_url=row.base_url,
        encryption_key_id=row.key_id,
        created_by=row.created_by,
        created_at=row.created_at,
    )


class ModelProfiles:
    """Creates and deletes model profiles."""

    def __init__(self, engine: AsyncEngine, keyring: KeyRingSource) -> None:
        self._engine = engine
        self._keyring = keyring

    async def create(self, principal: Principal, body: ModelProfileCreate) -> Row[Any]:
        """Seal the key under the primary key and store the profile."""
        ring = await self._keyring.current()
        profile_id = uuid4()
        sealed = ring.seal(body.api_key.get_secret_value(), sealing_context(profile_id))
        values = body.model_dump(exclude={"api_key"}) | {"created_by": principal.owner_key}
        async with transaction(self._engine) as conn:
            row = await sql.insert_profile(conn, profile_id, values, sealed)
        log.info("model profile created", profile_id=str(profile_id), key_id=sealed.key_id)
        return row

    async def delete(self, principal: Principal, profile_id: UUID) -> None:
        """Soft-delete: runs that named it can no longer get its key."""
        async with transaction(self._engine) as conn:
            if not await sql.soft_delete(conn, profile_id):
                raise not_found("model profile", profile_id)
        log.info("model profile deleted", profile_id=str(profile_id), by=principal.owner_key)
