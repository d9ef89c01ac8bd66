"""What the shared database says about callers: role bindings and live API tokens.

Every service verifies tokens itself; these lookups let it cap a token's role by its
user's current binding, refuse a disabled user, and honour the revocation of an API
token. Bindings are cached briefly (one query per identity per cache period, however
many requests); API tokens are looked up on every request, so revocation is immediate.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.auth import ROLE_NAMES, Binding, BindingLookup
from dursor_contracts.db import one_or_none
from dursor_contracts.schema import api_tokens, users

DEFAULT_CACHE_SIZE = 10_000


def _binding(row: Row[Any] | None) -> Binding | None:
    if row is None or row.role not in ROLE_NAMES:
        return None
    return Binding(ROLE_NAMES[row.role], disabled=row.disabled, pinned=row.role_pinned)


class DatabaseAuthority:
    """Role bindings (users table) and API-token state (api_tokens table)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def binding_of(self, issuer: str, subject: str) -> Binding | None:
        """The binding of this identity, or None when it has no user row."""
        async with self._engine.connect() as conn:
            row = await one_or_none(
                conn,
                select(users.c.role, users.c.disabled, users.c.role_pinned).where(
                    users.c.issuer == issuer, users.c.subject == subject
                ),
            )
        return _binding(row)

    async def api_token_owner(self, token_id: str) -> Binding | None:
        """The owner's binding while the API token exists, is not revoked and has not expired."""
        try:
            ident = UUID(token_id)
        except ValueError:
            return None
        async with self._engine.connect() as conn:
            row = await one_or_none(
                conn,
                select(users.c.role, users.c.disabled, users.c.role_pinned)
                .select_from(api_tokens.join(users, api_tokens.c.user_id == users.c.id))
                .where(
                    api_tokens.c.id == ident,
                    api_tokens.c.revoked_at.is_(None),
                    api_tokens.c.expires_at > func.now(),
                ),
            )
        return _binding(row)


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
