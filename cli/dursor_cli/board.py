"""What a person watching runs sees: coloured lines per run and one progress line per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from dursor_cli.events import StreamEvent
from dursor_cli.output import Output, duration
from dursor_cli.runs_view import MARKS, PALETTE, TERMINAL, executor_name, label

# The event that ends a turn → the status it leaves the run in.
ENDINGS = {
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "timed_out": "timed_out",
}


@dataclass
class RunLine:
    """What the board knows of one run."""

    run_id: str
    name: str
    colour: str
    status: str = "queued"
    turn: int = 1
    lines: int = 0
    seen_seq: int = 0
    ended: bool = False
    note: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    def progress(self) -> Text:
        """The run's progress line."""
        mark, style = MARKS.get(self.status, ("?", ""))
        text = Text.assemble((f"{mark} ", style), (self.name, f"bold {self.colour}"))
        took = duration(self.started_at, self.finished_at)
        text.append(f"  {self.status}  turn {self.turn} · {self.lines} lines · {took}")
        if self.note:
            text.append(f"  {self.note}", style="dim")
        return text


class Board:
    """Turns stream events into lines (and JSON Lines with `--json`)."""

    def __init__(self, out: Output, live: bool, json_lines: bool) -> None:
        self.out = out
        self.live = live
        self.json_lines = json_lines
        self.runs: dict[str, RunLine] = {}

    def track(self, run: dict[str, Any]) -> RunLine:
        """Watch a run (from the API's run document)."""
        line = self.runs.get(run["id"])
        if line is None:
            colour = PALETTE[len(self.runs) % len(PALETTE)]
            line = RunLine(run["id"], label(run["id"], executor_name(run)), colour)
            line.started_at, line.finished_at = run.get("started_at"), run.get("finished_at")
            self.runs[run["id"]] = line
        line.status, line.turn = run["status"], run["turn"]
        line.ended = run["status"] in TERMINAL and run["last_seq"] <= line.seen_seq
        return line

    def handle(self, event: StreamEvent) -> None:
        """Show one event of a tracked run."""
        body = event.body
        line = self.runs[body["run_id"]]
        line.seen_seq, line.turn = int(body["seq"]), int(body["turn"])
        if self.json_lines:
            self.out.json_line(body)
        for text in self._texts(line, event.type, body["data"]):
            self._print(line, text)
        line.ended = event.type in ENDINGS
        self._clock(line, event.type, body)

    @staticmethod
    def _clock(line: RunLine, kind: str, body: dict[str, Any]) -> None:
        """A turn's start and end times, from its own events."""
        if kind == "status" and body["data"].get("status") == "running":
            line.started_at, line.finished_at = body["created_at"], None
        elif kind in ENDINGS:
            line.finished_at = body["created_at"]

    def _texts(self, line: RunLine, kind: str, data: dict[str, Any]) -> list[Text]:
        if kind == "log":
            line.lines += len(data["lines"])
            style = "red" if data.get("stream") == "stderr" else ""
            return [Text(text, style=style) for text in data["lines"]]
        if kind == "status":
            line.status = str(data["status"])
            return [Text(f"{MARKS.get(line.status, ('?', ''))[0]} {line.status}", style="dim")]
        if kind == "progress":
            line.note = str(data["message"])
            return [Text(f"→ {data['message']}", style="italic")]
        if kind == "artifact":
            return [Text(f"stored {data['kind']} ({data['size_bytes']} bytes)", style="dim")]
        return self._ending(line, kind, data)

    def _ending(self, line: RunLine, kind: str, data: dict[str, Any]) -> list[Text]:
        line.status = ENDINGS.get(kind, kind)
        mark, style = MARKS.get(line.status, ("?", ""))
        if kind == "completed":
            files = len(data.get("files_changed") or [])
            line.note = str(data.get("summary") or "")
            return [Text(f"{mark} succeeded: {line.note} ({files} files changed)", style=style)]
        line.note = str(data.get("reason") or "")
        return [Text(f"{mark} {line.status}: {line.note}", style=style)]

    def _print(self, line: RunLine, text: Text) -> None:
        if self.out.as_json:
            return
        prefix = Text(f"{line.name} │ ", style=line.colour)
        self.out.console.print(prefix + text, soft_wrap=True)

    def reconnecting(self, reason: str) -> None:
        """Say that the stream dropped and is being resumed."""
        if not self.out.as_json:
            self.out.note(f"[dim]stream interrupted ({reason}); resuming…[/]")

    def progress(self) -> RenderableType:
        """One progress line per run (the live area at the bottom of a terminal)."""
        return Group(*(run.progress() for run in self.runs.values()))

    def summary(self) -> None:
        """The final progress lines, once (terminals without a live area, and the end)."""
        if not self.out.as_json:
            self.out.console.print(self.progress())

    def all_ended(self) -> bool:
        """True when every tracked run's last seen event ended its turn."""
        return bool(self.runs) and all(run.ended for run in self.runs.values())
