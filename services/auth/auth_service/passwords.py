"""Password hashing with argon2id, off the event loop; verification in constant time.

One argon2id hash costs tens of milliseconds of CPU and 64 MiB of memory. Run inline it
would stall every other request of the replica (token checks, streams) while it works,
so hashing and verifying run in a small pool of threads of their own (argon2's C code
releases the GIL); the pool's size bounds the CPU and memory logins can take at once.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps the timing of unknown users equal to known ones.
DUMMY_HASH = _hasher.hash("dursor-dummy-password")


def hash_password(password: str) -> str:
    """An argon2id hash with a random salt (blocking: call through `PasswordHashing`)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a missing user (after the same work)."""
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordHashing:
    """argon2id in a bounded pool of threads, so the event loop keeps serving."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")

    async def hash(self, password: str) -> str:
        """`hash_password` on the pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """`verify_password` on the pool."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, verify_password, password_hash, password
        )

    def close(self) -> None:
        """Let running hashes finish; accept no more."""
        self._pool.shutdown(wait=True, cancel_futures=True)
