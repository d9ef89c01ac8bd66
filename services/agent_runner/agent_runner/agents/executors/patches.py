"""Applying a model's unified diff to a worktree with `git apply`, reporting what failed.

First a clean apply; when that fails and the patch names the blobs it was made from
(`index` lines), a three-way apply on a clean tree (undone if it leaves conflicts);
last `--reject`, which applies the hunks that fit and leaves the rest in `.rej` files.
dursor reads and deletes those files, so rejects are reported, never committed.
A patch naming a path outside the worktree (absolute, `..`, `.git`) is refused whole,
and a `.rej` is read without following links (`worktree_files.py`).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent_runner.agents.worktree_files import OutsideWorktree, read_inside
from agent_runner.git.untrusted_git import git_argv, git_env

FENCED_DIFF = re.compile(r"```(?:diff|patch|udiff)?[^\n]*\n(.*?)```", re.DOTALL)
DIFF_START = re.compile(r"^(diff --git |--- (?:a/|/dev/null))", re.MULTILINE)
REJECT_LINES = 40
REJECT_BYTES = 64 * 1024
# The path names of a diff: `diff --git a/x b/y`, a `--- x` / `+++ y` pair, renames, copies.
PATCH_PATHS = re.compile(
    r"^(?:diff --git (?P<pair>.+)"
    r"|--- (?P<old>[^\t\n]+)[^\n]*\n\+\+\+ (?P<new>[^\t\n]+)"
    r"|(?:rename|copy) (?:from|to) (?P<moved>.+))$",
    re.MULTILINE,
)


class UnsafePatch(Exception):
    """The patch names a path outside the worktree or inside its git directory."""


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


def outside_paths(patch: str) -> list[str]:
    """The paths a patch names that lie outside the worktree or in a `.git` folder."""
    names: list[str] = []
    for match in PATCH_PATHS.finditer(patch):
        if match["pair"]:
            names += match["pair"].split(" ")
        elif match["old"]:
            names += [match["old"], match["new"]]
        else:
            names.append(match["moved"])
    return sorted({name for name in map(str.strip, names) if _escapes(name)})


def _escapes(name: str) -> bool:
    if name == "/dev/null":
        return False
    path = PurePosixPath(name.removeprefix("a/").removeprefix("b/"))
    return path.is_absolute() or any(part in ("..", ".git") for part in path.parts)


async def apply_patch(worktree: Path, patch: str) -> ApplyResult:
    """Apply `patch` as well as git can; the result says what changed and what was rejected."""
    if escaping := outside_paths(patch):
        raise UnsafePatch(f"the patch names paths outside the worktree: {', '.join(escaping)}")
    with tempfile.TemporaryDirectory(prefix="dursor-patch-") as scratch:
        patch_file = Path(scratch) / "model.patch"
        await asyncio.to_thread(patch_file.write_text, patch)
        return await _apply(worktree, patch, patch_file)


async def _apply(worktree: Path, patch: str, patch_file: Path) -> ApplyResult:
    before = await _status(worktree)
    result = ApplyResult()
    if not await _attempt(worktree, result, "--recount", str(patch_file)):
        three_way = "\nindex " in patch and not before
        if not (three_way and await _three_way(worktree, result, patch_file)):
            await _attempt(worktree, result, "--reject", "--recount", str(patch_file))
            result.rejects = await _collect_rejects(worktree, before)
    result.changed = sorted((await _status(worktree)) - before)
    return result


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
            lines = await asyncio.to_thread(_take_reject, worktree, path)
            rejects += [f"rejected in {path[:-4]}:", *lines]
    return rejects


def _take_reject(worktree: Path, path: str) -> list[str]:
    """The first lines of a `.rej` file (never through a link), which is then deleted."""
    try:
        data = read_inside(worktree, path, REJECT_BYTES) or b""
    except OutsideWorktree:
        data = b"(not read: it links out of the worktree)"
    (worktree / path).unlink(missing_ok=True)
    return data.decode(errors="replace").splitlines()[:REJECT_LINES]


async def _status(worktree: Path) -> set[str]:
    """Paths that differ from HEAD (tracked or not), as `git status` names them."""
    _, output = await _git(worktree, "status", "--porcelain", "--untracked-files=all", "-z")
    return {entry[3:] for entry in output.split("\0") if len(entry) > 3}


async def _git(worktree: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *git_argv(*args),
        cwd=worktree,
        env=git_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")
