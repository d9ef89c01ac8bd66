"""Reading a worktree's files as the runner: never through a link, never outside the worktree.

A repository (or an agent) can hold `notes.md -> ../../../secrets.json`; the runner
reads files of a worktree for the model's context and for reports, with the runner's
own rights. Each file is opened with `O_NOFOLLOW` (a link as the last component fails),
`O_NONBLOCK` (a FIFO cannot hang the runner), and the path the kernel actually opened is
checked to lie inside the worktree (a linked folder on the way is caught there).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class OutsideWorktree(Exception):
    """The path leads out of the worktree (through a link or `..`)."""


def resolves_inside(root: Path, relative: str) -> bool:
    """True when `relative`, links followed, stays inside `root`."""
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, relative))
    return os.path.commonpath([base, target]) == base


def read_inside(root: Path, relative: str, limit: int) -> bytes | None:
    """The bytes of a regular file of `root`; None for links inside, other kinds and big files.

    Raises OutsideWorktree when `relative` points out of `root` by any way.
    """
    if not resolves_inside(root, relative):
        raise OutsideWorktree(f"{relative} leads out of the worktree")
    base = os.path.realpath(root)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(os.path.join(base, relative), flags)
    except OSError:  # a link (ELOOP), gone, or unreadable: nothing to read
        return None
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.commonpath([base, opened]) != base:
            raise OutsideWorktree(f"{relative} leads out of the worktree")
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(limit + 1)[:limit]
    finally:
        os.close(fd)
