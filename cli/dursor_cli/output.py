"""How results reach people (Rich, colour only on a terminal) and scripts (`--json`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

# Scripts read wide lines: without a terminal, Rich would wrap at 80 columns.
PIPE_WIDTH = 200


def interactive() -> bool:
    """True when a person sits at both ends: prompts and colours are allowed."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def make_console(stderr: bool = False) -> Console:
    """A console that colours only a terminal and honours NO_COLOR."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        stderr=stderr,
        width=None if tty else PIPE_WIDTH,
        no_color=not tty or "NO_COLOR" in os.environ,
        highlight=False,
        soft_wrap=not tty,
    )


class Output:
    """One command's output: JSON documents in `--json` mode, Rich renderables otherwise."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = make_console()
        self.err = make_console(stderr=True)

    def json(self, document: Any) -> None:
        """Print one JSON document (the command's whole result)."""
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        sys.stdout.flush()

    def json_line(self, document: Any) -> None:
        """Print one JSON Lines record (streams)."""
        sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def note(self, message: str) -> None:
        """A message for people, on stderr so stdout stays the result."""
        self.err.print(message)


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], title: str | None = None) -> Table:
    """A table whose first column (ids) never wraps."""
    result = Table(title=title, title_justify="left", header_style="bold", box=None)
    for index, name in enumerate(columns):
        result.add_column(name, no_wrap=index == 0, overflow="fold")
    for row in rows:
        result.add_row(*row)
    return result


def when(value: str | None) -> str:
    """An API timestamp as local time to the second, or a dash."""
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(start: str | None, end: str | None) -> str:
    """Seconds between two API timestamps (until now while `end` is missing)."""
    if not start:
        return "-"
    finish = datetime.fromisoformat(end) if end else datetime.now().astimezone()
    seconds = int((finish - datetime.fromisoformat(start)).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
