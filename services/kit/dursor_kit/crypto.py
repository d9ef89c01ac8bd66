"""AES-GCM encryption of model credentials with a rotatable key ring.

The ring comes from the secret store as JSON: `{"primary": id, "keys": {id: base64}}`.
Each ciphertext is stored with the id of the key that sealed it, so rotation is adding
a key and making it primary; `reseal` moves old rows to the primary key.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class UnknownKey(Exception):
    """The ciphertext was sealed with a key the ring no longer has."""


@dataclass(frozen=True)
class Sealed:
    """A ciphertext, its nonce and the id of the key that sealed it."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


class EncryptionKeyRing:
    """Seals with the primary key; opens with whichever key a ciphertext names."""

    def __init__(self, primary: str, keys: dict[str, bytes]) -> None:
        if primary not in keys:
            raise ValueError("the primary key id is not in the ring")
        if any(len(k) != 32 for k in keys.values()):
            raise ValueError("every key must be 256 bits")
        self.primary = primary
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_json(cls, document: str) -> EncryptionKeyRing:
        """Parse the secret-store document."""
        parsed = json.loads(document)
        keys = {kid: base64.b64decode(value) for kid, value in parsed["keys"].items()}
        return cls(parsed["primary"], keys)

    def seal(self, plaintext: str, context: bytes) -> Sealed:
        """Encrypt with the primary key; `context` (e.g. the row id) is authenticated too."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = self._ciphers[self.primary].encrypt(nonce, plaintext.encode(), context)
        return Sealed(self.primary, nonce, ciphertext)

    def open(self, sealed: Sealed, context: bytes) -> str:
        """Decrypt; fails if the ciphertext, nonce or context was altered."""
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise UnknownKey(sealed.key_id)
        return cipher.decrypt(sealed.nonce, sealed.ciphertext, context).decode()

    def reseal(self, sealed: Sealed, context: bytes) -> Sealed | None:
        """The same secret under the primary key, or None if it already is."""
        if sealed.key_id == self.primary:
            return None
        return self.seal(self.open(sealed, context), context)
