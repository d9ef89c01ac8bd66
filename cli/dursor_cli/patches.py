"""Unified diffs of runs: split per file, compared side by side, applied with git."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dursor_cli.errors import CliError, ExitCode

FILE_HEADER = re.compile(r"^diff --git a/(.+?) b/(.+)$", re.MULTILINE)


def split_by_file(patch: str) -> dict[str, str]:
    """Each file's part of a unified diff, by the path it has after the change."""
    starts = list(FILE_HEADER.finditer(patch))
    parts: dict[str, str] = {}
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(patch)
        parts[match.group(2)] = patch[match.start() : end]
    return parts


def counts(part: str) -> tuple[int, int]:
    """Added and removed lines of one file's diff."""
    lines = part.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return added, removed


def apply(patch: str, workdir: Path, check_only: bool, three_way: bool) -> list[str]:
    """Apply `patch` to the checkout at `workdir` with git; the files it touches."""
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.stdout.strip() != "true":
        raise CliError(f"{workdir} is not a git checkout", ExitCode.USAGE)
    command = ["git", "apply", "--whitespace=nowarn"]
    command += ["--check"] if check_only else []
    command += ["--3way"] if three_way else []
    result = subprocess.run(
        command, cwd=workdir, input=patch, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        reason = " ".join(result.stderr.split()) or "git apply failed"
        raise CliError(f"the patch does not apply: {reason}", ExitCode.FAILED)
    return list(split_by_file(patch))
