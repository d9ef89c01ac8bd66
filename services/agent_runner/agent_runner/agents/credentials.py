"""The one provider credential a run may use, decrypted from its model profile."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.agents.executors.base import Credential
from agent_runner.agents.repository import live_profile
from dursor_kit.crypto import EncryptionKeyRing, Sealed
from dursor_store.run_lifecycle import ClaimedRun

Provider = Literal["openai", "anthropic", "google"]


class ModelProfileCredentials:
    """Resolves a run's model profile to its decrypted API key."""

    def __init__(self, engine: AsyncEngine, keyring: EncryptionKeyRing) -> None:
        self._engine = engine
        self._keyring = keyring

    async def for_run(self, run: ClaimedRun) -> Credential | None:
        """None when the run names no model profile (the agent brings its own setup)."""
        if run.executor.model_profile_id is None:
            return None
        async with self._engine.connect() as conn:
            row = await live_profile(conn, run.executor.model_profile_id)
        if row is None:
            return None
        sealed = Sealed(row.key_id, row.key_nonce, row.key_ciphertext)
        api_key = self._keyring.open(sealed, context=str(row.id).encode())
        return Credential(cast(Provider, row.provider), SecretStr(api_key), row.base_url, row.model)
