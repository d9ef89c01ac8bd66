"""Tokens that passed the full check, remembered by hash until they expire."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VERIFIED_TOKENS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """Claims whose signature and registered claims were checked, and until when to trust that."""

    issuer: str
    claims: Mapping[str, Any]
    # Wall clock (the token's `exp`) and monotonic (its key's JWKS period) bounds.
    expires_at: float
    key_checked_until: float


class VerifiedTokens:
    """Tokens that passed the signature and claim checks, by SHA-256 of the whole token.

    A hit skips only the cryptography and claim parsing: the issuer's rules on token use,
    the user's current binding (its own cache period) and an API token's revocation are
    still asked on every request. An entry lives until the token's `exp`, and no longer
    than the JWKS period, so a signing key withdrawn from the issuer's JWKS stops
    verifying within the same bound as without the cache. Any change to a token (payload
    or signature) changes its hash: a tampered token never finds an entry.
    """

    def __init__(self, max_entries: int = VERIFIED_TOKENS_MAX) -> None:
        self._max = max_entries
        self._entries: OrderedDict[bytes, VerifiedToken] = OrderedDict()

    @staticmethod
    def key(token: str) -> bytes:
        """The digest tokens are remembered by (the token itself is not kept)."""
        return hashlib.sha256(token.encode()).digest()

    def get(self, key: bytes) -> VerifiedToken | None:
        """The entry while it is still valid; expired ones are dropped."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.time() >= entry.expires_at or time.monotonic() >= entry.key_checked_until:
            del self._entries[key]
            return None
        return entry

    def remember(self, key: bytes, entry: VerifiedToken) -> None:
        """Keep a verified token, the oldest going first once full."""
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
