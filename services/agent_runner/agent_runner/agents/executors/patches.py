"""Applying a model's unified diff to a worktree with `git apply`, reporting what failed.

First a clean apply; when that fails and the patch names the blobs it was made from
(`index` lines), a three-way apply on a clean tree (undone if it leaves conflicts);
last `--reject`, which applies the hunks that fit and leaves the rest in `.rej` files.
dursor reads and deletes those files, so rejects are reported, never committed.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from agent_runner.git.workspaces import GIT_ENV

FENCED_DIFF = re.compile(r"```(?:diff|patch|udiff)?[^\n]*\n(.*?)```", re.DOTALL)
DIFF_START = re.compile(r"^(diff --git |--- (?:a/|/dev/null))", re.MULTILINE)
REJECT_LINES = 40


@dataclass
class ApplyResult:
    """Which paths the patch changed, and what git could not apply."""

    changed: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        """True when at least one file changed."""
        return bool(self.changed)


def extract_diff(answer: str) -> str | None:
    """The unified diff in a model's answer: its fenced diff blocks, else from `---` on."""
    blocks = [b for b in FENCED_DIFF.findall(answer) if DIFF_START.search(b)]
    if not blocks:
        start = DIFF_START.search(answer)
        if start is None:
            return None
        blocks = [answer[start.start() :].split("\n```", 1)[0]]
    return "".join(with_git_headers(_with_newline(b)) for b in blocks)


def with_git_headers(patch: str) -> str:
    """Give each file of a plain unified diff a `diff --git` header.

    `--recount` (models miscount hunk lines) reads a hunk until a line that is not
    context, `+` or `-`, so the next file's `--- a/...` line would join the hunk unless
    a header stands before it; the header also needs the new/deleted file mode.
    """
    if "\ndiff --git " in f"\n{patch}":
        return patch
    lines = patch.splitlines(keepends=True)
    out: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.startswith("--- ") and following.startswith("+++ "):
            out += _header(_name(line), _name(following))
        out.append(line)
    return "".join(out)


def _name(line: str) -> str | None:
    name = line[4:].split("\t", 1)[0].strip()
    return None if name == "/dev/null" else name.removeprefix("a/").removeprefix("b/")


def _header(old: str | None, new: str | None) -> list[str]:
    path = new or old
    header = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        header.append("new file mode 100644\n")
    if new is None:
        header.append("deleted file mode 100644\n")
    return header


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


async def apply_patch(worktree: Path, patch: str, scratch: Path) -> ApplyResult:
    """Apply `patch` as well as git can; the result says what changed and what was rejected."""
    patch_file = await asyncio.to_thread(_write_patch, scratch, patch)
    before = await _status(worktree)
    result = ApplyResult()
    if not await _attempt(worktree, result, "--recount", str(patch_file)):
        three_way = "\nindex " in patch and not before
        if not (three_way and await _three_way(worktree, result, patch_file)):
            await _attempt(worktree, result, "--reject", "--recount", str(patch_file))
            result.rejects = await _collect_rejects(worktree, before)
    result.changed = sorted((await _status(worktree)) - before)
    return result


def _write_patch(scratch: Path, patch: str) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / "model.patch"
    path.write_text(patch)
    return path


async def _three_way(worktree: Path, result: ApplyResult, patch_file: Path) -> bool:
    if await _attempt(worktree, result, "--3way", "--recount", str(patch_file)):
        return True
    # Conflict markers must never reach a commit: back to the clean tree.
    await _git(worktree, "reset", "--hard", "--quiet")
    await _git(worktree, "clean", "-fdq")
    return False


async def _attempt(worktree: Path, result: ApplyResult, *args: str) -> bool:
    code, output = await _git(worktree, "apply", "--whitespace=nowarn", *args)
    result.messages += [f"git apply {args[0]}: {line}" for line in output.splitlines() if line]
    return code == 0


async def _collect_rejects(worktree: Path, before: set[str]) -> list[str]:
    rejects = []
    for path in sorted((await _status(worktree)) - before):
        if path.endswith(".rej"):
            lines = await asyncio.to_thread(_take_reject, worktree / path)
            rejects += [f"rejected in {path[:-4]}:", *lines]
    return rejects


def _take_reject(reject: Path) -> list[str]:
    """The first lines of a `.rej` file, which is then deleted."""
    lines = reject.read_text(errors="replace").splitlines()[:REJECT_LINES]
    reject.unlink()
    return lines


async def _status(worktree: Path) -> set[str]:
    """Paths that differ from HEAD (tracked or not), as `git status` names them."""
    _, output = await _git(worktree, "status", "--porcelain", "--untracked-files=all", "-z")
    return {entry[3:] for entry in output.split("\0") if len(entry) > 3}


async def _git(worktree: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=worktree,
        env={**os.environ, **GIT_ENV},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")
