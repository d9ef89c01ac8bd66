"""`dursor compare` and `dursor usage`: a submission's runs ranked, and what runs cost."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from dursor_cli.errors import CliError, ExitCode
from dursor_cli.runs_view import executor_name
from dursor_cli.session import JsonFlag, output_of, session_of
from dursor_cli.usage_view import comparison_table, criteria, totals_table, usage_table

COMPARE_HELP = f"""Rank the runs of a task's latest submission, best first, every figure shown.

The rule compares criteria in order, the first that differs decides (`--rule`, comma-separated,
of: {", ".join(criteria())}); without it the server's rule applies. Unknown figures (no
verification, an unpriced turn) rank last on their criterion.

Examples:

    dursor compare 9d2e4f60-...

    dursor compare 9d2e4f60-... --rule cost_usd,duration_seconds --json | jq -r '.runs[0].run_id'
"""


def compare(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="TASK", help="Task id.")],
    rule: Annotated[
        str | None,
        typer.Option("--rule", help="Criteria in order, comma-separated.", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Rank the runs of a task's latest submission."""
    if rule is not None:
        _check_rule(rule)
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        comparison = api.get(f"/v1/tasks/{task_id}/comparison", rule=rule)
        names = {r["id"]: executor_name(r) for r in api.items(f"/v1/tasks/{task_id}/runs")}
    if out.as_json:
        out.json(comparison)
        return
    out.console.print(comparison_table(comparison, names))


def _check_rule(rule: str) -> None:
    known = criteria()
    unknown = [name for name in rule.split(",") if name.strip() not in known]
    if unknown:
        raise CliError(
            f"--rule: unknown criterion {unknown[0].strip()!r} (known: {', '.join(known)})",
            ExitCode.USAGE,
        )


def usage(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option("--run", help="One run, turn by turn.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Every run of a task.")] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="Every run on a repository.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only turns from this day or moment on (ISO 8601)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Tokens and cost: yours (default), or of a run, a task or a repository.

    Examples:

        dursor usage --since 2026-11-01

        dursor usage --run 7c1e9a40-...

        dursor usage --repo 1f0c2b8e-... --since 2026-11-01T00:00:00Z --json
    """
    scopes = (("runs", run), ("tasks", task), ("repos", repo))
    chosen = [(name, value) for name, value in scopes if value is not None]
    if len(chosen) > 1:
        raise CliError("name at most one of --run, --task, --repo", ExitCode.USAGE)
    if run is not None and since is not None:
        raise CliError("--since applies to --task, --repo and your own usage", ExitCode.USAGE)
    path = f"/v1/{chosen[0][0]}/{chosen[0][1]}/usage" if chosen else "/v1/usage"
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        found = api.get(path, since=_moment(since) if since else None)
    if out.as_json:
        out.json(found)
        return
    out.console.print(usage_table(found) if run is not None else totals_table(found))


def _moment(text: str) -> str:
    """A day (local midnight) or a moment, as the API's ISO 8601 `since`."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day).astimezone().isoformat()
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--since: not a date or ISO 8601 moment: {text!r}", ExitCode.USAGE) from exc
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def register(app: typer.Typer) -> None:
    """Add the commands of this module."""
    app.command(help=COMPARE_HELP)(compare)
    app.command()(usage)
