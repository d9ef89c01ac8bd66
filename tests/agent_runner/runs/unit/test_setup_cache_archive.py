"""What the cached setup layer restores into a worktree: only what stays inside it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from agent_runner.runs.setup_cache import ARCHIVE, EXPORTS, CachedSetup, SetupCache


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


async def test_links_out_absolute_paths_and_dot_dot_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "key"
    folder.mkdir(parents=True)
    with tarfile.open(folder / ARCHIVE, "w") as tar:
        good = member("deps/lib.txt")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"ok"))
        tar.addfile(member("deps/etc", tarfile.SYMTYPE, "/etc"))
        tar.addfile(member("deps/up", tarfile.SYMTYPE, "../../outside"))
        escape = member("../escape.txt")
        escape.size = 1
        tar.addfile(escape, io.BytesIO(b"x"))
        absolute = member(str(tmp_path / "absolute.txt"))
        absolute.size = 1
        tar.addfile(absolute, io.BytesIO(b"x"))
        tar.addfile(member("deps/null", tarfile.CHRTYPE))
    (folder / EXPORTS).write_text("{}")
    worktree = tmp_path / "worktree"
    worktree.mkdir()

    await SetupCache(tmp_path / "cache").restore(CachedSetup(folder), worktree)

    assert (worktree / "deps" / "lib.txt").read_text() == "ok"
    assert sorted(p.name for p in (worktree / "deps").iterdir()) == ["lib.txt"]
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "absolute.txt").exists()
    # An absolute name loses its leading slash: it lands inside the worktree.
    assert [p.is_relative_to(worktree) for p in worktree.rglob("absolute.txt")] == [True]
