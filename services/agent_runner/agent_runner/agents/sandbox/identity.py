"""A host uid/gid of its own for every live jail, and handing a run's folders to it.

The uid is picked from a range no login uses, starting at a slot derived from the run
id (so a follow-up turn on the same worker usually gets the same uid and finds its files
already its own), and held with an advisory lock for the jail's life: two live jails
never share a uid, across every runner process of the host. The kernel drops the lock
when its holder dies, so a crashed runner leaks no slot.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


class IdentityExhausted(Exception):
    """Every uid of the range belongs to a live jail."""


@dataclass
class JailIdentity:
    """A uid/gid held for one jail; `release` gives it back."""

    uid: int
    gid: int
    _lock: TextIO | None

    def release(self) -> None:
        """Give the uid back to the pool."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


class IdentityPool:
    """Hands out per-jail uids from `base` to `base + count - 1` under file locks."""

    def __init__(self, lock_dir: Path, base: int, count: int) -> None:
        self._lock_dir = lock_dir
        self._base = base
        self._count = count

    def acquire(self, run_id: str) -> JailIdentity:
        """The run's preferred uid if free, else the next free one."""
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        start = int(hashlib.sha256(run_id.encode()).hexdigest()[:12], 16) % self._count
        for step in range(self._count):
            uid = self._base + (start + step) % self._count
            lock = self._try_lock(uid)
            if lock is not None:
                return JailIdentity(uid, uid, lock)
        raise IdentityExhausted(f"all {self._count} jail uids from {self._base} are in use")

    def _try_lock(self, uid: int) -> TextIO | None:
        handle = (self._lock_dir / f"{uid}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle


def hand_over(folder: Path, uid: int, gid: int) -> int:
    """Make every entry of `folder` owned by uid:gid without following links; returns changes."""
    changed = _own(folder, uid, gid)
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                changed += _own(Path(entry.path), uid, gid)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
    return changed


def _own(path: Path, uid: int, gid: int) -> int:
    with contextlib.suppress(FileNotFoundError):
        status = path.lstat()
        if (status.st_uid, status.st_gid) != (uid, gid):
            os.lchown(path, uid, gid)
            return 1
    return 0
