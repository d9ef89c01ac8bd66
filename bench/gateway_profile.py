"""Sample a running service with py-spy and summarise the collapsed stacks as text.

`py-spy record --format raw` writes one line per distinct stack (`frame;frame;… count`,
root first). The summary names what the process spent its samples in: per library
(inclusive: a stack counts once for every library on it), and per function (inclusive
and self), so a profile can be committed and compared as plain text.

    uv run python -m bench.gateway_profile summarise stacks.txt > profile.txt
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# `function (path/to/file.py:123)`: the line number is dropped so a function is one row.
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
SITE_PACKAGES = re.compile(r".*?(?:site-packages|dist-packages|lib/python3\.\d+)/")
OUR_ROOTS = ("events_gateway", "dursor_kit", "dursor_store", "dursor_contracts", "run_api")


@dataclass(frozen=True)
class Stacks:
    """Collapsed stacks: each a tuple of frames (root first) and its sample count."""

    counts: dict[tuple[str, ...], int]

    @property
    def total(self) -> int:
        """Every sample."""
        return sum(self.counts.values())

    @classmethod
    def parse(cls, text: str) -> Stacks:
        """Read py-spy's raw (collapsed) output."""
        counts: Counter[tuple[str, ...]] = Counter()
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                counts[tuple(frame_name(f) for f in stack.split(";"))] += int(count)
        return cls(dict(counts))


def frame_name(frame: str) -> str:
    """`function (module path)` without the line number or the interpreter's prefix."""
    found = FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    path = SITE_PACKAGES.sub("", found["file"])
    return f"{found['function']} ({path})"


def library_of(frame: str) -> str:
    """The top-level package a frame belongs to (`httpx`, `asyncio`, `events_gateway` …)."""
    found = re.search(r"\(([^()]*)\)$", frame)
    path = found.group(1) if found else frame
    for root in OUR_ROOTS:
        if f"/{root}/" in f"/{path}":
            return root
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


def inclusive(stacks: Stacks, by_library: bool = False) -> Counter[str]:
    """Samples in which each function (or library) appears at least once."""
    seen: Counter[str] = Counter()
    for stack, count in stacks.counts.items():
        names = {library_of(f) for f in stack} if by_library else set(stack)
        for name in names:
            seen[name] += count
    return seen


def self_time(stacks: Stacks) -> Counter[str]:
    """Samples whose innermost frame is each function."""
    leaves: Counter[str] = Counter()
    for stack, count in stacks.counts.items():
        if stack:
            leaves[stack[-1]] += count
    return leaves


def summary(stacks: Stacks, title: str, top: int = 40) -> str:
    """The committed text: libraries, then functions by inclusive and by self samples."""
    total = max(stacks.total, 1)
    lines = [title, f"samples: {stacks.total}", "", "## libraries (inclusive % of samples)"]
    lines += _rows(inclusive(stacks, by_library=True), total, top)
    lines += ["", "## functions, inclusive % (a stack counts once per function on it)"]
    lines += _rows(inclusive(stacks), total, top)
    lines += ["", "## functions, self % (innermost frame)"]
    lines += _rows(self_time(stacks), total, top)
    return "\n".join(lines) + "\n"


def _rows(counter: Counter[str], total: int, top: int) -> list[str]:
    return [f"{100 * n / total:6.1f}%  {name}" for name, n in counter.most_common(top)]


def heaviest_stacks(stacks: Stacks, top: int) -> Iterable[str]:
    """The most sampled stacks, in py-spy's collapsed format, for the record."""
    ranked = sorted(stacks.counts.items(), key=lambda item: -item[1])[:top]
    return (f"{';'.join(stack)} {count}" for stack, count in ranked)


async def record(pid: int, seconds: float, output: Path, rate: int = 100) -> None:
    """Sample `pid` for `seconds` into `output` (collapsed stacks); needs root (ptrace)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    command += ["--rate", str(rate), "--format", "raw", "--output", str(output)]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, error = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"py-spy failed: {error.decode(errors='replace')[-500:]}")


def write_profile(raw: Path, destination: Path, how: str) -> None:
    """The summary and the 60 heaviest stacks of `raw`, headed by how they were taken."""
    stacks = Stacks.parse(raw.read_text())
    body = summary(stacks, how)
    body += "\n## the 60 heaviest stacks (collapsed: frames root first, then samples)\n"
    body += "\n".join(heaviest_stacks(stacks, 60)) + "\n"
    destination.write_text(body)


def main() -> None:
    """`summarise RAW [--title TEXT]`: print the summary of a py-spy raw file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["summarise"])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--title", default="py-spy profile")
    arguments = parser.parse_args()
    print(summary(Stacks.parse(arguments.raw.read_text()), arguments.title))


if __name__ == "__main__":
    main()
