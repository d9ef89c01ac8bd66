"""`dursor diff`, `dursor apply`, `dursor pr`: a run's result, here and on GitHub."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.syntax import Syntax

from dursor_cli.api import Api
from dursor_cli.errors import CliError, ExitCode
from dursor_cli.output import Output, table
from dursor_cli.patches import apply, counts, split_by_file
from dursor_cli.session import IdempotencyKey, JsonFlag, output_of, session_of

RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id.")]
PR_SETTLED = frozenset({"open", "closed", "merged", "failed"})
CI_SETTLED = frozenset({"success", "failure"})


def diff(
    ctx: typer.Context,
    run_id: RunArg,
    compare: Annotated[
        str | None, typer.Option("--compare", metavar="RUN2", help="Show beside another run's.")
    ] = None,
    pager: Annotated[bool, typer.Option("--pager/--no-pager", help="Page on a terminal.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """A run's diff, coloured and paged on a terminal, raw when piped.

    Examples:

        dursor diff 7c1e9a40-...

        dursor diff 7c1e9a40-... --compare 5b0d2c11-...

        dursor diff 7c1e9a40-... > change.patch
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        patches = {run_id: _patch(api, run_id)}
        if compare:
            patches[compare] = _patch(api, compare)
    if out.as_json:
        out.json({"runs": [_patch_doc(rid, text) for rid, text in patches.items()]})
    elif not out.console.is_terminal:
        _print_raw(out, patches)
    else:
        _show(out, patches, pager)


def _patch(api: Api, run_id: str) -> str:
    return api.request("GET", f"/v1/runs/{run_id}/patch").text


def _patch_doc(run_id: str, patch: str) -> dict[str, Any]:
    files = [
        {"path": path, "additions": counts(part)[0], "deletions": counts(part)[1]}
        for path, part in split_by_file(patch).items()
    ]
    return {"run_id": run_id, "patch": patch, "files": files}


def _print_raw(out: Output, patches: dict[str, str]) -> None:
    for run_id, patch in patches.items():
        if len(patches) > 1:
            out.console.out(f"# run {run_id}", highlight=False)
        out.console.out(patch, end="", highlight=False)


def _show(out: Output, patches: dict[str, str], pager: bool) -> None:
    os.environ.setdefault("LESS", "-FRX")  # colours through less, no pager for a short diff
    if pager:
        with out.console.pager(styles=True):
            _render(out, patches)
    else:
        _render(out, patches)


def _render(out: Output, patches: dict[str, str]) -> None:
    if len(patches) == 1:
        out.console.print(Syntax(next(iter(patches.values())), "diff", theme="ansi_dark"))
        return
    (a, patch_a), (b, patch_b) = patches.items()
    files_a, files_b = split_by_file(patch_a), split_by_file(patch_b)
    out.console.print(_files_table(a, b, files_a, files_b))
    for path in sorted(files_a.keys() | files_b.keys()):
        sides = [
            Syntax(files.get(path, f"(not changed by {rid[:8]})"), "diff", theme="ansi_dark")
            for rid, files in ((a, files_a), (b, files_b))
        ]
        out.console.rule(path)
        out.console.print(Columns(sides, equal=True, expand=True))


def _files_table(a: str, b: str, files_a: dict[str, str], files_b: dict[str, str]) -> Any:
    def cell(files: dict[str, str], path: str) -> str:
        return "+{}/-{}".format(*counts(files[path])) if path in files else "-"

    rows = [
        [path, cell(files_a, path), cell(files_b, path)]
        for path in sorted(files_a.keys() | files_b.keys())
    ]
    return table(["FILE", f"RUN {a[:8]}", f"RUN {b[:8]}"], rows)


def apply_run(
    ctx: typer.Context,
    run_id: RunArg,
    check: Annotated[bool, typer.Option("--check", help="Only say whether it applies.")] = False,
    three_way: Annotated[bool, typer.Option("--3way", help="Fall back to a 3-way merge.")] = False,
    directory: Annotated[
        Path, typer.Option("--dir", "-C", help="The checkout (default: here).")
    ] = Path(),
    as_json: JsonFlag = False,
) -> None:
    """Apply a run's patch to the current git checkout (git apply).

    Examples:

        dursor apply 7c1e9a40-...

        dursor apply 7c1e9a40-... --check --json
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        patch = _patch(api, run_id)
    files = apply(patch, directory.resolve(), check, three_way)
    if out.as_json:
        out.json({"run_id": run_id, "applied": not check, "files": files})
        return
    verb = "applies cleanly to" if check else "applied to"
    out.console.print(f"Patch of {run_id} {verb} {directory.resolve()}: {', '.join(files)}")


def pr(
    ctx: typer.Context,
    run_id: RunArg,
    wait_ci: Annotated[
        bool, typer.Option("--wait-ci", help="Wait until CI succeeds or fails (exit 0 or 1).")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Give up waiting after this many seconds.")
    ] = 300,
    update: Annotated[
        bool, typer.Option("--update", help="Push and update even if the PR is current.")
    ] = False,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Open (or update) the run's pull request; print its URL, then its CI state.

    An open pull request that already carries the run's last commit is left as it is
    (`--update` pushes and updates it anyway).

    Examples:

        dursor pr 7c1e9a40-...

        dursor pr 7c1e9a40-... --wait-ci --timeout 1800 --json
    """
    out = output_of(as_json)
    deadline = time.monotonic() + timeout
    with session_of(ctx).api() as api:
        record = None if update else _current_pull_request(api, run_id)
        if record is None:
            record = api.post(f"/v1/runs/{run_id}/pull-request", None, idempotency_key)
        record = _until(api, record, lambda p: p["state"] in PR_SETTLED, deadline)
        if record["state"] == "failed":
            raise CliError(f"the pull request failed: {record.get('error')}", ExitCode.FAILED)
        if not out.as_json:
            out.console.print(f"{record['url']}  ({record['state']})")
        if wait_ci:
            record = _until(api, record, lambda p: p["ci_status"] in CI_SETTLED, deadline)
    if out.as_json:
        out.json(record)
    else:
        out.console.print(f"CI: {record['ci_status']}")
    if wait_ci and record["ci_status"] != "success":
        raise typer.Exit(ExitCode.FAILED)


def _current_pull_request(api: Api, run_id: str) -> dict[str, Any] | None:
    """The run's open pull request if it already carries the run's last commit."""
    run = api.get(f"/v1/runs/{run_id}")
    for record in api.items(f"/v1/tasks/{run['task_id']}/pull-requests"):
        if record["run_id"] == run_id and record["state"] == "open":
            current: dict[str, Any] = record
            return current if record["head_sha"] == run["commit_sha"] else None
    return None


def _until(api: Api, record: dict[str, Any], done: Any, deadline: float) -> dict[str, Any]:
    """Poll the task's pull requests until `done(record)` or the deadline (exit 2)."""
    while not done(record):
        if time.monotonic() > deadline:
            raise CliError("timed out waiting for the pull request", ExitCode.CANCELLED)
        time.sleep(1.0)
        for candidate in api.items(f"/v1/tasks/{record['task_id']}/pull-requests"):
            if candidate["id"] == record["id"]:
                record = candidate
    return record


def register(app: typer.Typer) -> None:
    """Add the commands of this module."""
    app.command()(diff)
    app.command("apply")(apply_run)
    app.command()(pr)
