"""A local bare repository that stands in for GitHub as the remote of runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_IDENTITY = ["-c", "user.name=dursor-tests", "-c", "user.email=tests@dursor.invalid"]


def git(*args: str, cwd: Path) -> str:
    """Run git and return its stdout."""
    result = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout


def make_remote(root: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A bare repo with one commit holding `files`; returns its path (use as file:// URL)."""
    seed = root / "seed"
    seed.mkdir(parents=True)
    git("init", "-q", "-b", branch, cwd=seed)
    for name, content in (files or {"README.md": "# demo\n"}).items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(content)
    git("add", ".", cwd=seed)
    git("commit", "-q", "-m", "initial commit", cwd=seed)
    remote = root / "remote.git"
    git("clone", "-q", "--bare", str(seed), str(remote), cwd=root)
    return remote
