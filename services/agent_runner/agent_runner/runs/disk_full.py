"""A run that failed because the runner's disk filled up says so, in words an operator acts on."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

NO_SPACE = "No space left on device"
# Below this much free space the workspaces volume counts as full.
FULL_BELOW_BYTES = 1 << 20
# A failed write (git says "couldn't write" without the errno) on a volume this close to
# full is the full disk too: space comes and goes as failed runs clean up.
NEARLY_FULL_BYTES = 64 << 20
WRITE_FAILURES = ("couldn't write", "unable to write", "write error", "could not write")
REASON = "the runner's disk is full (workspaces or artifacts volume); free space and retry the run"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _says_no_space(error: BaseException) -> bool:
    return any(
        (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)) or NO_SPACE in str(e)
        for e in _chain(error)
    )


def _says_write_failed(error: BaseException) -> bool:
    return any(marker in str(e) for e in _chain(error) for marker in WRITE_FAILURES)


def _free_bytes(path: Path) -> int | None:
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    return None if existing is None else shutil.disk_usage(existing).free


def disk_full_reason(error: BaseException | None, workspaces: Path) -> str | None:
    """The run's failure reason when `error` (or the volume's free space) says disk full."""
    if error is not None and _says_no_space(error):
        return f"{REASON}: {str(error)[:300]}"
    free = _free_bytes(workspaces)
    if free is None:
        return None
    if free < FULL_BELOW_BYTES:
        return REASON
    if error is not None and free < NEARLY_FULL_BYTES and _says_write_failed(error):
        return f"{REASON}: {str(error)[:300]}"
    return None
