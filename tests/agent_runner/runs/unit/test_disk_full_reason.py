"""A run failed by a full disk says so: the errors git and the artifact store raise then."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

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


def test_a_write_git_could_not_make_names_the_full_disk_only_when_nearly_full(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    volume = tmp_path / "volume"
    volume.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(volume)], check=True)
    # git names the lock file it could not create, not the errno.
    error = GitError("git worktree failed: fatal: cannot update ref: couldn't write 'x.lock'")
    try:
        roomy = disk_full_reason(error, tmp_path)  # the host's /tmp: far from full
        (volume / "filler").write_bytes(b"\0" * (6 << 20))  # 2 MiB left: nearly full
        nearly_full = disk_full_reason(error, volume)
    finally:
        subprocess.run(["umount", str(volume)], check=True)

    assert roomy is None
    assert nearly_full is not None
    assert nearly_full.startswith(REASON)
