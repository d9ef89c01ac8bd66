"""A repository's secrets for one run: opened, sorted by where they go, kept out of output.

Each secret reaches only the commands its `inject_into` names and the operator allows
(`DURSOR_SECRET_INJECTION_PLACES`, the same bound run-api applies when one is written):
`setup`, `agent`, `verify`. Every value is masked in what the run records (log lines,
progress, summary, reasons, verification output), and a turn whose changes hold one
is failed without storing its patch or branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from agent_runner.agents.repository import repo_secret_rows
from dursor_contracts.environment import name_refusal, secret_context
from dursor_kit.crypto import EncryptionKeyRing, Sealed
from dursor_store.run_lifecycle import ClaimedRun

MASK = "***"
PLACES = ("setup", "agent", "verify")


class SecretInChanges(Exception):
    """The turn's changes hold the value of a repository secret."""

    REASON = "secret_in_changes"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{self.REASON}: the changes hold the value of the repository secret {name}; "
            "neither the patch nor the branch was stored"
        )


@dataclass(frozen=True)
class RunSecrets:
    """The run's secrets by place, and every value to mask."""

    by_place: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def at(self, place: str) -> dict[str, str]:
        """The variables injected into the commands of `place`."""
        return dict(self.by_place.get(place, {}))

    @property
    def values(self) -> dict[str, str]:
        """Every secret's value by name."""
        return {name: value for place in self.by_place.values() for name, value in place.items()}

    def mask(self, text: str) -> str:
        """`text` with every secret value replaced, the longest first."""
        for value in sorted(set(self.values.values()), key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def check_changes(self, patch: bytes) -> None:
        """Raise `SecretInChanges` when the patch holds a value."""
        for name, value in sorted(self.values.items()):
            if value.encode() in patch:
                raise SecretInChanges(name)


class RepoSecrets:
    """Opens a run's repository secrets with the model-key ring."""

    def __init__(
        self, engine: AsyncEngine, keyring: EncryptionKeyRing, allowed: Sequence[str] = PLACES
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._allowed = frozenset(allowed)

    async def for_run(self, run: ClaimedRun) -> RunSecrets:
        """The run's secrets (none when its repository has none)."""
        if run.repo_id is None:
            return RunSecrets()
        async with self._engine.connect() as conn:
            rows = await repo_secret_rows(conn, run.repo_id)
        by_place: dict[str, dict[str, str]] = {}
        for row in rows:
            if name_refusal(row.name) is not None:
                continue  # written before the rule: never injected
            sealed = Sealed(row.key_id, row.key_nonce, row.key_ciphertext)
            value = self._keyring.open(sealed, secret_context(run.repo_id, row.name))
            for place in set(row.inject_into) & self._allowed:
                by_place.setdefault(place, {})[row.name] = value
        return RunSecrets(by_place)
