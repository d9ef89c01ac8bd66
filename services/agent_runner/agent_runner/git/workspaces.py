"""Git workspaces: one cached bare clone per repository, one worktree and branch per run.

The bare clone is fetched, never re-cloned. A run's work lives on `dursor/<id-prefix>`
in its own worktree; dursor commits the agent's changes itself, so the patch is the
diff between the task's base and the run branch. A bundle of the branch is stored as
an artifact so a follow-up turn can continue on any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dursor_contracts.events import FileChange

GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "dursor",
    "GIT_AUTHOR_EMAIL": "dursor@users.noreply.dursor.cloud",
    "GIT_COMMITTER_NAME": "dursor",
    "GIT_COMMITTER_EMAIL": "dursor@users.noreply.dursor.cloud",
}
# Touched after each fetch; runs started within the freshness window reuse that fetch.
FETCH_STAMP = "dursor-fetched"
CHANGE_KINDS = {"A": "added", "M": "modified", "D": "deleted"}


class GitError(Exception):
    """A git command failed."""


@dataclass(frozen=True)
class TurnResult:
    """What a turn left in the worktree: its commit, the run's patch and files changed."""

    commit_sha: str | None
    patch: bytes
    files_changed: list[FileChange]


async def git(
    *args: str,
    cwd: Path | None = None,
    input_bytes: bytes | None = None,
    extra_env: dict[str, str] | None = None,
) -> bytes:
    """Run git with a fixed, prompt-free environment; returns stdout or raises GitError."""
    env = {**os.environ, **GIT_ENV, **(extra_env or {})}
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE if input_bytes is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(input_bytes)
    if process.returncode != 0:
        raise GitError(f"git {args[0]} failed: {_clipped(err.decode(errors='replace').strip())}")
    return out


def _clipped(message: str, keep: int = 250) -> str:
    """Head and tail of a long message: git says why (e.g. no space left) at the end."""
    return message if len(message) <= 2 * keep else f"{message[:keep]} … {message[-keep:]}"


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

    async def prepare(
        self, url: str, run_id: str, branch: str, base_branch: str, bundle: bytes | None
    ) -> Path:
        """A worktree on the run's branch: new from the base, or restored from a bundle."""
        mirror = self.mirror_path(url)
        worktree = self.worktree_path(run_id)
        # Worktree bookkeeping and ref updates of the shared bare clone are not safe to run
        # concurrently (git's lock files), so they happen under the mirror's lock.
        async with self._mirror_locked(mirror):
            await self._sync(url, mirror)
            if (worktree / ".git").exists():
                return worktree
            await git("worktree", "prune", cwd=mirror)
            if bundle is not None:
                await self._restore_branch(mirror, branch, bundle)
                await git("worktree", "add", "--quiet", str(worktree), branch, cwd=mirror)
            else:
                base = f"refs/remotes/origin/{base_branch}"
                await git(
                    "worktree", "add", "--quiet", "-B", branch, str(worktree), base, cwd=mirror
                )
        return worktree

    async def _restore_branch(self, mirror: Path, branch: str, bundle: bytes) -> None:
        path = mirror / f"restore-{branch.replace('/', '-')}.bundle"
        path.write_bytes(bundle)
        try:
            await git("fetch", "--quiet", str(path), f"+{branch}:{branch}", cwd=mirror)
        finally:
            path.unlink(missing_ok=True)

    async def finish_turn(self, worktree: Path, base_branch: str, message: str) -> TurnResult:
        """Commit whatever the agent changed and describe the run's whole diff."""
        await git("add", "--all", cwd=worktree)
        staged = await git("diff", "--cached", "--name-only", cwd=worktree)
        if staged.strip():
            await git("commit", "--quiet", "--no-verify", "-m", message, cwd=worktree)
        head = (await git("rev-parse", "HEAD", cwd=worktree)).decode().strip()
        base = await self._merge_base(worktree, base_branch)
        patch = await git("diff", "--binary", f"{base}..HEAD", cwd=worktree)
        files = await _files_changed(worktree, base)
        return TurnResult(
            commit_sha=head if base != head else None, patch=patch, files_changed=files
        )

    async def _merge_base(self, worktree: Path, base_branch: str) -> str:
        out = await git("merge-base", "HEAD", f"refs/remotes/origin/{base_branch}", cwd=worktree)
        return out.decode().strip()

    async def bundle(self, worktree: Path, run_id: str, branch: str, base_branch: str) -> bytes:
        """The run branch's commits since the base, as a git bundle."""
        base = await self._merge_base(worktree, base_branch)
        head = (await git("rev-parse", "HEAD", cwd=worktree)).decode().strip()
        if head == base:
            return b""
        path = worktree.parent / f"{run_id}.bundle"
        try:
            await git("bundle", "create", "--quiet", str(path), f"{base}..{branch}", cwd=worktree)
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    async def remove(self, run_id: str) -> None:
        """Delete a run's worktree, branch stays in the bare clone until pruned."""
        worktree = self.worktree_path(run_id)
        await asyncio.to_thread(shutil.rmtree, worktree, True)

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
    await git("clone", "--bare", "--quiet", url, str(mirror))
    await git("config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*", cwd=mirror)
    # No background gc racing with concurrent worktrees of the same clone.
    await git("config", "gc.auto", "0", cwd=mirror)


async def _files_changed(worktree: Path, base: str) -> list[FileChange]:
    # Renames are reported as a deletion plus an addition: simpler to read and to parse.
    diff_range = f"{base}..HEAD"
    numstat = await git("diff", "--numstat", "--no-renames", "-z", diff_range, cwd=worktree)
    status = await git("diff", "--name-status", "--no-renames", "-z", diff_range, cwd=worktree)
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
