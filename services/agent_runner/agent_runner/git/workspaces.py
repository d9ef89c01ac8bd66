"""Git workspaces: one cached bare clone per repository, one repository and branch per run.

The bare clone (the mirror) is fetched, never re-cloned, and only the runner touches it.
A run's work lives on `dursor/<id-prefix>` in a repository of its own that borrows the
mirror's objects (`run_repos.py`); dursor commits the agent's changes itself, so the
patch is the diff between the task's base and the run branch. A bundle of the branch is
stored as an artifact so a follow-up turn can continue on any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from agent_runner.git import run_repos
from agent_runner.git.run_repos import RunRepo
from agent_runner.git.untrusted_git import GIT_ENV, GitError, git
from dursor_contracts.events import FileChange

__all__ = ["GIT_ENV", "BaseCommitMissing", "GitError", "TurnResult", "Workspaces", "git"]

# Touched after each fetch; runs started within the freshness window reuse that fetch.
FETCH_STAMP = "dursor-fetched"
CHANGE_KINDS = {"A": "added", "M": "modified", "D": "deleted"}
# Diff drivers and text conversions are programs a repository's attributes could name.
DIFF_FLAGS = ("--no-ext-diff", "--no-textconv")


@dataclass(frozen=True)
class TurnResult:
    """What a turn left in the worktree: its commit, the run's patch and files changed."""

    commit_sha: str | None
    patch: bytes
    files_changed: list[FileChange]


class Workspaces:
    """Bare clone cache, worktrees and agent homes under one directory."""

    def __init__(self, root: Path, fetch_freshness_seconds: float = 5.0) -> None:
        self.root = root.resolve()
        self._fetch_freshness = fetch_freshness_seconds
        self._locks: dict[str, asyncio.Lock] = {}

    def mirror_path(self, url: str) -> Path:
        """Where the bare clone of `url` is cached."""
        return self.root / "repos" / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.git"

    def worktree_path(self, run_id: str) -> Path:
        """Where the run's worktree lives."""
        return self.root / "worktrees" / run_id

    def home_path(self, run_id: str) -> Path:
        """The agent's HOME for this run (kept across turns for session files)."""
        path = self.root / "homes" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.asynccontextmanager
    async def _mirror_locked(self, mirror: Path) -> AsyncIterator[None]:
        """Exclusive use of a bare clone, across tasks (asyncio) and processes (flock)."""
        async with self._lock_for(mirror):
            handle = await _flock(mirror)
            try:
                yield
            finally:
                _funlock(handle)

    async def _sync(self, url: str, mirror: Path) -> None:
        """Clone once, then fetch (at most once per freshness window); caller holds the lock."""
        if not (mirror / "HEAD").exists():
            await _clone_bare(url, mirror)
        if not _fetched_within(mirror, self._fetch_freshness):
            await git("fetch", "--prune", "--quiet", "origin", cwd=mirror)
            (mirror / FETCH_STAMP).touch()

    async def sync_mirror(self, url: str) -> Path:
        """Clone once, then fetch; serialised per repository across tasks and processes."""
        mirror = self.mirror_path(url)
        async with self._mirror_locked(mirror):
            await self._sync(url, mirror)
        return mirror

    def _lock_for(self, mirror: Path) -> asyncio.Lock:
        return self._locks.setdefault(str(mirror), asyncio.Lock())

    async def base_head(self, url: str, base_branch: str) -> str:
        """The commit the base branch points at now (after a fetch)."""
        mirror = self.mirror_path(url)
        async with self._mirror_locked(mirror):
            await self._sync(url, mirror)
            return await run_repos.mirror_commit(mirror, f"refs/remotes/origin/{base_branch}")

    async def prepare(
        self,
        url: str,
        run_id: str,
        branch: str,
        base_branch: str,
        bundle: bytes | None,
        base_commit: str | None = None,
    ) -> Path:
        """A worktree on the run's branch: new from the base, or restored from a bundle.

        The base is `base_commit` (the submission's pinned commit) when given, else the
        base branch's head.
        """
        mirror = self.mirror_path(url)
        async with self._mirror_locked(mirror):
            await self._sync(url, mirror)
            base_sha = await _base_in_mirror(mirror, base_branch, base_commit)
        repo = self.repo(run_id)
        if repo.exists():
            await run_repos.track_base(repo, base_branch, base_sha)
            return repo.worktree
        await run_repos.create(repo, mirror)
        await run_repos.track_base(repo, base_branch, base_sha)
        if bundle is not None:
            await run_repos.restore_branch(repo, branch, bundle)
        else:
            await run_repos.start_branch(repo, branch, base_branch)
        return repo.worktree

    def repo(self, run_id: str) -> RunRepo:
        """The run's repository: its worktree and its git directory outside the worktree."""
        return RunRepo(self.root / "gitdirs" / f"{run_id}.git", self.worktree_path(run_id))

    def _repo_of(self, worktree: Path) -> RunRepo:
        return self.repo(worktree.name)

    async def finish_turn(self, worktree: Path, base_branch: str, message: str) -> TurnResult:
        """Commit whatever the agent changed and describe the run's whole diff."""
        repo = self._repo_of(worktree)
        await repo.git("add", "--all")
        staged = await repo.git("diff", "--cached", "--name-only", "--no-ext-diff")
        if staged.strip():
            await repo.git("commit", "--quiet", "--no-verify", "-m", message)
        head = await repo.rev("HEAD")
        base = await _merge_base(repo, base_branch)
        patch = await repo.git("diff", *DIFF_FLAGS, "--binary", f"{base}..HEAD")
        files = await _files_changed(repo, base)
        return TurnResult(
            commit_sha=head if base != head else None, patch=patch, files_changed=files
        )

    async def bundle(self, worktree: Path, run_id: str, branch: str, base_branch: str) -> bytes:
        """The run branch's commits since the base, as a git bundle."""
        repo = self._repo_of(worktree)
        base = await _merge_base(repo, base_branch)
        head = await repo.rev("HEAD")
        if head == base:
            return b""
        path = repo.git_dir.parent / f"{run_id}.bundle"
        try:
            await repo.git("bundle", "create", "--quiet", str(path), f"{base}..{branch}")
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    async def remove(self, run_id: str) -> None:
        """Delete a run's worktree and git directory (its bundle artifact remains)."""
        await self.repo(run_id).remove()

    async def remove_older_than(self, seconds: float, keep: Sequence[str]) -> int:
        """Remove worktrees untouched for `seconds` except those of `keep`; returns the count."""
        folder = self.root / "worktrees"
        if not folder.exists():
            return 0
        cutoff = time.time() - seconds
        stale = [p for p in folder.iterdir() if p.name not in keep and p.stat().st_mtime < cutoff]
        for path in stale:
            await self.remove(path.name)
        return len(stale)


async def _clone_bare(url: str, mirror: Path) -> None:
    mirror.parent.mkdir(parents=True, exist_ok=True)
    await git("clone", "--bare", "--quiet", "--template=", url, str(mirror))
    await git("config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*", cwd=mirror)
    # Runs borrow the mirror's objects: no gc may ever delete one.
    await git("config", "gc.auto", "0", cwd=mirror)


class BaseCommitMissing(Exception):
    """The submission's pinned base commit is not in the repository (history rewritten)."""

    REASON = "base_commit_missing"


async def _base_in_mirror(mirror: Path, base_branch: str, pinned: str | None) -> str:
    if pinned is None:
        return await run_repos.mirror_commit(mirror, f"refs/remotes/origin/{base_branch}")
    try:
        return await run_repos.mirror_commit(mirror, pinned)
    except GitError as exc:
        raise BaseCommitMissing(
            f"{BaseCommitMissing.REASON}: the submission's base commit {pinned[:12]} "
            f"of {base_branch} is not in the repository any more"
        ) from exc


async def _merge_base(repo: RunRepo, base_branch: str) -> str:
    out = await repo.git("merge-base", "HEAD", f"refs/remotes/origin/{base_branch}")
    return out.decode().strip()


async def _files_changed(repo: RunRepo, base: str) -> list[FileChange]:
    # Renames are reported as a deletion plus an addition: simpler to read and to parse.
    diff_range = f"{base}..HEAD"
    numstat = await repo.git("diff", *DIFF_FLAGS, "--numstat", "--no-renames", "-z", diff_range)
    status = await repo.git("diff", *DIFF_FLAGS, "--name-status", "--no-renames", "-z", diff_range)
    fields = status.decode().split("\0")
    kinds = {fields[i + 1]: fields[i] for i in range(0, len(fields) - 1, 2)}
    changes = []
    for entry in filter(None, numstat.decode().split("\0")):
        added, deleted, path = entry.split("\t", 2)
        changes.append(
            FileChange(
                path=path,
                change=CHANGE_KINDS.get(kinds.get(path, "M"), "modified"),
                additions=int(added) if added.isdigit() else 0,
                deletions=int(deleted) if deleted.isdigit() else 0,
            )
        )
    return changes


def _fetched_within(mirror: Path, seconds: float) -> bool:
    try:
        return time.time() - (mirror / FETCH_STAMP).stat().st_mtime < seconds
    except FileNotFoundError:
        return False


def _open_lock(mirror: Path) -> TextIO:
    lock_path = mirror.with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return lock_path.open("a")


async def _flock(mirror: Path) -> TextIO:
    """Take the cross-process lock without a thread, so cancelling the wait leaks nothing."""
    handle = _open_lock(mirror)
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                await asyncio.sleep(0.05)
    except BaseException:
        handle.close()
        raise


def _funlock(handle: TextIO) -> None:
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()
