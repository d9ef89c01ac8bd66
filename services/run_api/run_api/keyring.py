"""Where run-api gets the encryption key ring: the Dapr secret store, re-read for rotation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from dursor_kit.crypto import EncryptionKeyRing


class KeyRingSource(Protocol):
    """Hands out the current key ring."""

    async def current(self) -> EncryptionKeyRing:
        """The ring to seal and open with now."""
        ...


class FixedKeyRing:
    """One ring for the life of the process (tests, the rotation command)."""

    def __init__(self, ring: EncryptionKeyRing) -> None:
        self._ring = ring

    async def current(self) -> EncryptionKeyRing:
        """The ring given at construction."""
        return self._ring


class RefreshingKeyRing:
    """Reads the ring document on first use and again once it is older than `ttl`."""

    def __init__(self, read: Callable[[], Awaitable[str]], ttl_seconds: float) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._ring: EncryptionKeyRing | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> EncryptionKeyRing:
        """The cached ring, re-read when stale (so a new primary key is picked up)."""
        if self._ring is not None and time.monotonic() - self._read_at < self._ttl:
            return self._ring
        async with self._lock:
            if self._ring is None or time.monotonic() - self._read_at >= self._ttl:
                self._ring = EncryptionKeyRing.from_json(await self._read())
                self._read_at = time.monotonic()
        return self._ring
