"""A run that failed because the runner's disk filled up says so, in words an operator acts on."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

NO_SPACE = "No space left on device"
# Below this much free space the workspaces volume counts as full.
FULL_BELOW_BYTES = 1 << 20
REASON = "the runner's disk is full (workspaces or artifacts volume); free space and retry the run"


def _says_no_space(error: BaseException) -> bool:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if NO_SPACE in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_full(path: Path) -> bool:
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    return existing is not None and shutil.disk_usage(existing).free < FULL_BELOW_BYTES


def disk_full_reason(error: BaseException | None, workspaces: Path) -> str | None:
    """The run's failure reason when `error` (or the volume's free space) says disk full."""
    if error is not None and _says_no_space(error):
        return f"{REASON}: {str(error)[:300]}"
    if _is_full(workspaces):
        return REASON
    return None
