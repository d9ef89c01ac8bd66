"""A run failed by a full disk says so: the errors git and the artifact store raise then."""

from __future__ import annotations

import errno
from pathlib import Path

from agent_runner.git.workspaces import GitError
from agent_runner.runs.disk_full import REASON, disk_full_reason


def test_enospc_from_a_write_names_the_full_disk(tmp_path: Path) -> None:
    error = OSError(errno.ENOSPC, "No space left on device")

    reason = disk_full_reason(error, tmp_path)

    assert reason is not None
    assert reason.startswith(REASON)


def test_gits_message_names_the_full_disk_even_when_wrapped(tmp_path: Path) -> None:
    cause = GitError("git worktree failed: fatal: write error: No space left on device")
    try:
        try:
            raise cause
        except GitError as exc:
            raise RuntimeError("preparing the workspace failed") from exc
    except RuntimeError as wrapped:
        reason = disk_full_reason(wrapped, tmp_path)

    assert reason is not None
    assert "disk is full" in reason


def test_other_failures_keep_their_own_reason(tmp_path: Path) -> None:
    assert disk_full_reason(ValueError("bad template"), tmp_path) is None
    assert disk_full_reason(None, tmp_path / "not" / "made" / "yet") is None
