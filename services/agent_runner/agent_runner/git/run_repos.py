"""A run's own repository, made from the shared mirror without letting the run touch it.

The run's git directory lives beside the worktrees, not in one (`gitdirs/<run>.git`),
and borrows the mirror's objects read-only through `objects/info/alternates`: creating
it copies no object, and nothing the run does writes to the mirror's config, hooks or
refs. The runner always names that git directory explicitly (`GIT_DIR`), so a `.git`
the agent planted or rewrote in its worktree is never read by the runner. Inside a jail
neither the mirror nor the git directory exists.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

from agent_runner.git.untrusted_git import git


@dataclass(frozen=True)
class RunRepo:
    """One run's git directory and the worktree it checks out."""

    git_dir: Path
    worktree: Path

    def exists(self) -> bool:
        """True when both halves are there (a follow-up turn on the same worker)."""
        return (self.git_dir / "HEAD").is_file() and self.worktree.is_dir()

    async def git(self, *args: str, extra_env: dict[str, str] | None = None) -> bytes:
        """git on this repository, whatever the worktree's own `.git` says."""
        named = {"GIT_DIR": str(self.git_dir), "GIT_WORK_TREE": str(self.worktree)}
        return await git(*args, cwd=self.worktree, extra_env=named | (extra_env or {}))

    async def rev(self, name: str) -> str:
        """The commit `name` points at."""
        return (await self.git("rev-parse", "--verify", f"{name}^{{commit}}")).decode().strip()

    async def remove(self) -> None:
        """Delete the worktree and the git directory."""
        for path in (self.worktree, self.git_dir):
            await asyncio.to_thread(shutil.rmtree, path, True)


async def mirror_commit(mirror: Path, ref: str) -> str:
    """The commit a ref of the mirror points at (the caller holds the mirror's lock)."""
    out = await git("rev-parse", "--verify", f"{ref}^{{commit}}", extra_env=_bare(mirror))
    return out.decode().strip()


async def create(repo: RunRepo, mirror: Path) -> None:
    """An empty repository for the run whose objects are the mirror's, read-only."""
    await repo.remove()
    repo.worktree.mkdir(parents=True)
    repo.git_dir.parent.mkdir(parents=True, exist_ok=True)
    # No template: no sample hooks, nothing but what git needs.
    await git(
        "init",
        "--quiet",
        "--template=",
        f"--separate-git-dir={repo.git_dir}",
        str(repo.worktree),
    )
    info = repo.git_dir / "objects" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "alternates").write_text(f"{mirror / 'objects'}\n")
    await repo.git("config", "gc.auto", "0")


async def track_base(repo: RunRepo, base_branch: str, base_sha: str) -> None:
    """Point the run's `origin/<base>` at the mirror's current base commit."""
    await repo.git("update-ref", f"refs/remotes/origin/{base_branch}", base_sha)


async def start_branch(repo: RunRepo, branch: str, base_branch: str) -> None:
    """Check out a new run branch at the base."""
    await repo.git("checkout", "--quiet", "-B", branch, f"refs/remotes/origin/{base_branch}")


async def restore_branch(repo: RunRepo, branch: str, bundle: bytes) -> None:
    """Check out the run branch as an earlier turn left it (its bundle)."""
    path = repo.git_dir / "restore.bundle"
    path.write_bytes(bundle)
    try:
        await repo.git("fetch", "--quiet", str(path), f"+refs/heads/{branch}:refs/heads/{branch}")
    finally:
        path.unlink(missing_ok=True)
    await repo.git("checkout", "--quiet", "--force", branch)


def _bare(git_dir: Path) -> dict[str, str]:
    return {"GIT_DIR": str(git_dir)}
