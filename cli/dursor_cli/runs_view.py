"""How runs look in a terminal: one colour and label per run, status marks, tables."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from dursor_cli.output import duration, table, when

PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "orange3")
MARKS = {
    "queued": ("…", "dim"),
    "running": ("●", "bold"),
    "succeeded": ("✔", "green"),
    "failed": ("✘", "red"),
    "cancelled": ("⊘", "yellow"),
    "timed_out": ("⧗", "yellow"),
}
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


def executor_name(run: dict[str, Any]) -> str:
    """`codex`, `codex:gpt-5-codex`, `command:chatty` …"""
    executor = run["executor"]
    detail = executor.get("model") or executor.get("options", {}).get("template")
    return f"{executor['type']}:{detail}" if detail else str(executor["type"])


def label(run_id: str, executor: str) -> str:
    """How a run is named on every line: its executor and the first 8 hex of its id."""
    return f"{executor}#{run_id[:8]}"


def status_text(status: str) -> Text:
    """A run status with its mark and colour."""
    mark, style = MARKS.get(status, ("?", ""))
    return Text(f"{mark} {status}", style=style)


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """A task's runs, one row each."""
    columns = ["RUN", "EXECUTOR", "STATUS", "TURN", "ATTEMPT", "FILES", "TIME", "SUMMARY"]
    result = table(columns, [])
    for run in runs:
        result.add_row(
            run["id"],
            executor_name(run),
            status_text(run["status"]),
            str(run["turn"]),
            str(run["attempt"]),
            str(len(run.get("files_changed") or [])),
            duration(run.get("started_at"), run.get("finished_at")),
            run.get("summary") or run.get("error") or "",
        )
    return result


def pull_requests_table(prs: list[dict[str, Any]]) -> Table:
    """A task's pull requests with state and CI status."""
    rows = [
        [pr["run_id"], pr["state"], pr.get("url") or "-", pr["ci_status"], when(pr["updated_at"])]
        for pr in prs
    ]
    return table(["RUN", "PR", "URL", "CI", "UPDATED"], rows, title="Pull requests")
