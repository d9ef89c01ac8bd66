"""Model profiles: API keys sealed with AES-GCM under the ring's primary key, row id as AAD.

agent-runner opens a key with `context=str(profile_id).encode()`, so a ciphertext copied
onto another row does not decrypt. The plaintext exists only inside `create`.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import structlog

from dursor_kit.auth.verifier import Principal
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import NotFound
from run_api.keyring import KeyRingSource
from run_api.model_profiles import repository as sql
from run_api.model_profiles.repository import ProfileRow
from run_api.model_profiles.schemas import ModelProfileCreate, ModelProfileOut

log = structlog.get_logger(__name__)


def sealing_context(profile_id: UUID) -> bytes:
    """The associated data every profile's key is sealed with (its row id)."""
    return str(profile_id).encode()


def profile_out(row: ProfileRow) -> ModelProfileOut:
    """The public view of a profile row (no key material)."""
    return ModelProfileOut(
        id=row.id,
        name=row.name,
        provider=row.provider,
        model=row.model,
        base_url=row.base_url,
        encryption_key_id=row.key_id,
        created_by=row.created_by,
        shared=row.shared,
        created_at=row.created_at,
    )


class ModelProfiles:
    """Creates and deletes model profiles."""

    def __init__(self, keyring: KeyRingSource) -> None:
        self._keyring = keyring

    async def create(
        self, work: UnitOfWork, principal: Principal, body: ModelProfileCreate
    ) -> ProfileRow:
        """Seal the key under the primary key and store the profile."""
        ring = await self._keyring.current()
        profile_id = uuid4()
        sealed = ring.seal(body.api_key.get_secret_value(), sealing_context(profile_id))
        values = body.model_dump(exclude={"api_key"}) | {"created_by": principal.owner_key}
        row = await sql.insert_profile(work.conn, profile_id, values, sealed)
        log.info("model profile created", profile_id=str(profile_id), key_id=sealed.key_id)
        return row

    async def delete(self, work: UnitOfWork, principal: Principal, profile_id: UUID) -> None:
        """Soft-delete: runs that named it can no longer get its key."""
        if not await sql.soft_delete(work.conn, profile_id):
            raise NotFound("model profile", profile_id)
        log.info("model profile deleted", profile_id=str(profile_id), by=principal.owner_key)
