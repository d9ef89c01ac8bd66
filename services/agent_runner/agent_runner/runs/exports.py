"""Variables a setup command exports to what runs after it, through the `$DURSOR_ENV` file.

Like GitHub Actions' `$GITHUB_ENV`: a setup command appends `NAME=value` lines, or
`NAME<<DELIMITER` … `DELIMITER` for a value of several lines, to the file `$DURSOR_ENV`
names; the later setup commands, the agent and the verify commands get them. The file
sits in the run's private temporary folder and is read as the runner (no link
followed, regular file only, at most `EXPORTS_MAX_BYTES`), then deleted. A malformed
line or a name the runner owns (`dursor_contracts.environment`) fails the setup.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from agent_runner.agents.process import private_tmp
from agent_runner.agents.worktree_files import OutsideWorktree, read_inside
from dursor_contracts.environment import name_refusal

EXPORTS_MAX_BYTES = 64 << 10


class ExportsRefused(Exception):
    """The `$DURSOR_ENV` file could not be taken as it is."""


def exports_file(home: Path, index: int) -> Path:
    """Where the `index`-th setup command's exports go (absent before it runs)."""
    path = private_tmp(home) / f"dursor-env-{index}"
    path.unlink(missing_ok=True)
    return path


def take_exports(path: Path) -> dict[str, str]:
    """The variables the command wrote to `path` (none if it wrote nothing); deletes it."""
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        raw = read_inside(path.parent, path.name, EXPORTS_MAX_BYTES)
    except OutsideWorktree:
        raw = None
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    if raw is None:
        limit = EXPORTS_MAX_BYTES >> 10
        raise ExportsRefused(f"$DURSOR_ENV is not a regular file of at most {limit} KiB")
    return parse_exports(raw.decode("utf-8", errors="replace"))


def parse_exports(text: str) -> dict[str, str]:
    """`NAME=value` and `NAME<<DELIMITER` blocks, later lines winning."""
    found: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        line, index = lines[index].removesuffix("\r"), index + 1
        if not line.strip():
            continue
        name, value, index = _entry(line, lines, index)
        _check(name, value, index)
        found[name] = value
    return found


def _entry(line: str, lines: list[str], index: int) -> tuple[str, str, int]:
    """One variable starting at `line`; where the next one starts."""
    equals, heredoc = line.find("="), line.find("<<")
    if heredoc != -1 and (equals == -1 or heredoc < equals):
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        if not delimiter:
            raise ExportsRefused(f"$DURSOR_ENV line {index}: `{name}<<` names no delimiter")
        body: list[str] = []
        while index < len(lines):
            current, index = lines[index].removesuffix("\r"), index + 1
            if current == delimiter:
                return name, "\n".join(body), index
            body.append(current)
        raise ExportsRefused(f"$DURSOR_ENV: `{name}<<{delimiter[:32]}` is never closed")
    if equals == -1:
        raise ExportsRefused(f"$DURSOR_ENV line {index}: expected NAME=value")
    return line[:equals], line[equals + 1 :], index


def _check(name: str, value: str, index: int) -> None:
    refusal = name_refusal(name)
    if refusal is not None:
        raise ExportsRefused(f"$DURSOR_ENV line {index}: {refusal}")
    if "\0" in value:
        raise ExportsRefused(f"$DURSOR_ENV line {index}: `{name}` holds a NUL byte")
