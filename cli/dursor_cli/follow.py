"""Follow runs to their end through a resumable stream: `tail`, `run --wait`, `follow-up --wait`."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.live import Live

from dursor_cli.api import Api
from dursor_cli.board import Board
from dursor_cli.errors import ExitCode
from dursor_cli.events import ResumableStream, StreamEvent
from dursor_cli.output import Output
from dursor_cli.runs_view import TERMINAL

_END = object()


@dataclass(frozen=True)
class Outcome:
    """The runs as they stood when following stopped."""

    runs: list[dict[str, Any]]
    timed_out: bool

    @property
    def exit_code(self) -> ExitCode:
        """0 all succeeded, 1 any failed, 2 any cancelled or timed out (or --timeout hit)."""
        statuses = {run["status"] for run in self.runs}
        if "failed" in statuses:
            return ExitCode.FAILED
        if self.timed_out or statuses - {"succeeded"}:
            return ExitCode.CANCELLED
        return ExitCode.OK

    @property
    def name(self) -> str:
        """One word for the outcome."""
        names = {ExitCode.OK: "succeeded", ExitCode.FAILED: "failed"}
        code = self.exit_code
        return names.get(code, "timed_out" if self.timed_out else "cancelled")


@dataclass(frozen=True)
class Watch:
    """What to follow: a stream path, the runs to track, where to resume."""

    path: str
    runs: list[dict[str, Any]]
    only: frozenset[str] | None = None  # None: every run the stream shows
    cursor: str | None = None
    timeout: float | None = None
    json_lines: bool = False  # `tail --json`: every event as a JSON Lines record


def follow(api: Api, out: Output, watch: Watch) -> Outcome:
    """Show the runs' events until every tracked run has ended (or the timeout)."""
    board = Board(out, out.console.is_terminal and not out.as_json, watch.json_lines)
    for run in watch.runs:
        board.track(run)
    inbox = _read_in_background(api.clone(), watch, board)
    deadline = time.monotonic() + watch.timeout if watch.timeout else None
    if board.live:
        with Live(console=out.console, refresh_per_second=4, get_renderable=board.progress):
            timed_out = _pump(api, board, inbox, watch, deadline)
    else:
        timed_out = _pump(api, board, inbox, watch, deadline)
        board.summary()
    return Outcome([api.get(f"/v1/runs/{run_id}") for run_id in board.runs], timed_out)


def _read_in_background(api: Api, watch: Watch, board: Board) -> queue.Queue[Any]:
    inbox: queue.Queue[Any] = queue.Queue()
    stream = ResumableStream(api, watch.path, watch.cursor, on_reconnect=board.reconnecting)

    def read() -> None:
        try:
            for event in stream.events():
                inbox.put(event)
            inbox.put(_END)
        except BaseException as exc:  # handed to the main thread, which raises it
            inbox.put(exc)

    threading.Thread(target=read, name="dursor-stream", daemon=True).start()
    return inbox


def _pump(
    api: Api,
    board: Board,
    inbox: queue.Queue[Any],
    watch: Watch,
    deadline: float | None,
) -> bool:
    """Handle events until the end; True when the deadline came first."""
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return True
        try:
            item = inbox.get(timeout=0.25)
        except queue.Empty:
            continue
        if item is _END:
            return False
        if isinstance(item, BaseException):
            raise item
        if _show(api, board, watch, item) and _confirmed_ended(api, board):
            return False


def _show(api: Api, board: Board, watch: Watch, event: StreamEvent) -> bool:
    """Show an event if its run is followed; True when it may have ended every run."""
    run_id = event.body["run_id"]
    if watch.only is not None and run_id not in watch.only:
        return False
    if run_id not in board.runs:
        board.track(api.get(f"/v1/runs/{run_id}"))
    board.handle(event)
    return board.all_ended()


def _confirmed_ended(api: Api, board: Board) -> bool:
    """Ask the API whether nothing more will come (a follow-up may have started a turn)."""
    for run_id in list(board.runs):
        run = api.get(f"/v1/runs/{run_id}")
        board.track(run)
        if run["status"] not in TERMINAL:
            return False
    return board.all_ended()


def task_cursor(runs: Iterable[dict[str, Any]]) -> str | None:
    """A task stream cursor past every event of `runs` (so only newer events come)."""
    parts = [f"{run['id'].replace('-', '')}:{run['last_seq']}" for run in runs if run["last_seq"]]
    return ",".join(parts) or None
