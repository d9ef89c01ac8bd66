"""Role bindings remembered briefly, so each identity costs one lookup per cache period.

Every service verifies tokens itself and caps a token's role by its user's current
binding; the lookup itself (the users table) belongs to the store.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Protocol

from dursor_kit.auth.verifier import Binding, BindingLookup

DEFAULT_CACHE_SIZE = 10_000


class BindingAuthority(Protocol):
    """Where a service learns an identity's current binding and an API token's owner."""

    async def binding_of(self, issuer: str, subject: str) -> Binding | None:
        """The binding of this identity, or None when it has no user row."""
        ...

    async def api_token_owner(self, token_id: str) -> Binding | None:
        """The owner's binding while the API token is live, else None."""
        ...


class BindingCache:
    """Bindings remembered for `ttl_seconds`; concurrent misses for one identity share a query."""

    def __init__(
        self, lookup: BindingLookup, ttl_seconds: float, max_entries: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, Binding | None]] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Task[Binding | None]] = {}

    async def __call__(self, issuer: str, subject: str) -> Binding | None:
        """The binding, from the cache while it is fresh, else from the lookup."""
        key = (issuer, subject)
        cached = self._entries.get(key)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        task = self._pending.get(key)
        if task is None:
            # A task of its own: a caller that goes away does not cancel the others' answer.
            task = asyncio.create_task(self._load(key))
            self._pending[key] = task
        return await asyncio.shield(task)

    async def _load(self, key: tuple[str, str]) -> Binding | None:
        try:
            binding = await self._lookup(*key)
        finally:
            del self._pending[key]
        self._remember(key, binding)
        return binding

    def _remember(self, key: tuple[str, str], binding: Binding | None) -> None:
        if self._ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self._ttl, binding)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
