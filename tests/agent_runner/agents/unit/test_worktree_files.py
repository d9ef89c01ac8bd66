"""The runner reads a worktree's files without following a link out of it, on a real disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_runner.agents.executors.patches import outside_paths
from agent_runner.agents.worktree_files import OutsideWorktree, read_inside

SECRET = b"SECRET-OF-THE-RUNNER"


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """A worktree beside a secret file, holding one plain file."""
    (tmp_path / "secrets.json").write_bytes(SECRET)
    root = tmp_path / "worktrees" / "run"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    return root


def test_a_plain_file_is_read(worktree: Path) -> None:
    assert read_inside(worktree, "src/app.py", 1024) == b"print('hi')\n"


@pytest.mark.parametrize(
    "link", ["../../secrets.json", "ABSOLUTE"], ids=["relative link", "absolute link"]
)
def test_a_link_out_of_the_worktree_is_refused(worktree: Path, link: str) -> None:
    target = str(worktree.parent.parent / "secrets.json") if link == "ABSOLUTE" else link
    (worktree / "notes.md").symlink_to(target)
    with pytest.raises(OutsideWorktree):
        read_inside(worktree, "notes.md", 1024)


def test_a_linked_folder_on_the_way_is_refused(worktree: Path) -> None:
    (worktree / "docs").symlink_to(worktree.parent.parent)
    with pytest.raises(OutsideWorktree):
        read_inside(worktree, "docs/secrets.json", 1024)


def test_dot_dot_is_refused(worktree: Path) -> None:
    with pytest.raises(OutsideWorktree):
        read_inside(worktree, "src/../../../secrets.json", 1024)


def test_a_link_inside_is_not_followed_either(worktree: Path) -> None:
    (worktree / "alias.py").symlink_to("src/app.py")
    assert read_inside(worktree, "alias.py", 1024) is None


def test_a_fifo_or_a_big_file_is_skipped_without_blocking(worktree: Path) -> None:
    os.mkfifo(worktree / "pipe")
    (worktree / "big.bin").write_bytes(b"x" * 2048)
    assert read_inside(worktree, "pipe", 1024) is None
    assert read_inside(worktree, "big.bin", 1024) is None


def test_patch_paths_outside_the_worktree_are_named() -> None:
    patch = (
        "diff --git a/ok.txt b/ok.txt\n--- a/ok.txt\n+++ b/ok.txt\n@@ -1 +1 @@\n--- ../x\n+ok\n"
        "--- /dev/null\n+++ b/../up.txt\n"
        "--- /dev/null\n+++ /etc/cron.d/x\n"
        "diff --git a/.git/hooks/pre-commit b/.git/hooks/pre-commit\n"
        "rename from a.txt\nrename to ../../b.txt\n"
    )
    assert outside_paths(patch) == [
        "../../b.txt",
        "/etc/cron.d/x",
        "a/.git/hooks/pre-commit",
        "b/../up.txt",
        "b/.git/hooks/pre-commit",
    ]
    assert outside_paths("--- a/x\n+++ b/x\n--- /dev/null\n+++ b/new.txt\n") == []
