"""Credentials per gateway: in the OS keyring when one exists, else a file only you can read."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import keyring
import keyring.core
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError

from dursor_cli.config import private_dir

SERVICE = "dursor"
FILE_NAME = "credentials.json"
CredentialKind = Literal["password", "api-token", "entra"]


@dataclass(frozen=True)
class Credential:
    """A bearer token for one gateway, and what it was obtained with."""

    gateway: str
    access_token: str
    kind: CredentialKind
    username: str
    expires_at: float | None = None

    @property
    def expired(self) -> bool:
        """True once the token's lifetime has passed (a minute early, for clock skew)."""
        return self.expires_at is not None and time.time() > self.expires_at - 60

    @classmethod
    def from_json(cls, raw: str) -> Credential:
        """Parse a stored credential."""
        data: dict[str, Any] = json.loads(raw)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_json(self) -> str:
        """What is stored."""
        return json.dumps(asdict(self))


def usable_keyring() -> KeyringBackend | None:
    """The OS keyring, or one the user configured for keyring; None when only fallbacks exist.

    keyring's own priorities rank real stores (Secret Service, macOS, Windows) at 1 or
    more; plaintext and failing backends rank below, and our 0600 file beats them.
    """
    configured = keyring.core.load_env() or keyring.core.load_config()
    if configured is not None:
        return configured
    backend = keyring.get_keyring()
    priority = float(getattr(backend, "priority", 0))
    return backend if priority >= 1 else None


class CredentialStore:
    """Saves, loads and deletes credentials in the keyring or the 0600 file."""

    def __init__(self, backend: KeyringBackend | None, file: Path) -> None:
        self.backend = backend
        self.file = file

    @classmethod
    def default(cls) -> CredentialStore:
        """The keyring when one is usable (`DURSOR_CREDENTIAL_STORE=file` forces the file)."""
        choice = os.environ.get("DURSOR_CREDENTIAL_STORE", "auto")
        backend = None if choice == "file" else usable_keyring()
        if choice == "keyring" and backend is None:
            backend = keyring.get_keyring()
        return cls(backend, private_dir() / FILE_NAME)

    @property
    def location(self) -> str:
        """Where credentials go, for people to read."""
        if self.backend is not None:
            return f"keyring ({type(self.backend).__module__}.{type(self.backend).__name__})"
        home = str(Path.home())
        shown = str(self.file)
        return "~" + shown.removeprefix(home) if shown.startswith(home + "/") else shown

    def save(self, credential: Credential) -> None:
        """Store (or replace) the credential of its gateway."""
        if self.backend is not None:
            self.backend.set_password(SERVICE, credential.gateway, credential.to_json())
            return
        entries = self._read_file()
        entries[credential.gateway] = json.loads(credential.to_json())
        self._write_file(entries)

    def load(self, gateway: str) -> Credential | None:
        """The credential of `gateway`, if there is one."""
        if self.backend is not None:
            raw = self.backend.get_password(SERVICE, gateway)
            return Credential.from_json(raw) if raw else None
        entry = self._read_file().get(gateway)
        return Credential.from_json(json.dumps(entry)) if entry else None

    def delete(self, gateway: str) -> bool:
        """Forget the credential of `gateway`; False if there was none."""
        if self.backend is not None:
            try:
                self.backend.delete_password(SERVICE, gateway)
            except KeyringError:
                return False
            return True
        entries = self._read_file()
        if entries.pop(gateway, None) is None:
            return False
        self._write_file(entries)
        return True

    def _read_file(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_file(self, entries: dict[str, Any]) -> None:
        # Created 0600 before any byte is written, then moved over the old file at once.
        staging = self.file.with_name(f".{self.file.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(entries, out, indent=2)
        os.replace(staging, self.file)
