"""`dursor run`, `follow-up`, `cancel`, `tail`, `status`."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer

from dursor_cli.api import Api
from dursor_cli.commands.tasks import find_or_add_repo
from dursor_cli.errors import ApiError, CliError, ExitCode
from dursor_cli.executors import SPEC_HELP, parse_executor, parse_executor_json
from dursor_cli.follow import Outcome, Watch, follow, task_cursor
from dursor_cli.output import Output
from dursor_cli.runs_view import TERMINAL, executor_name, runs_table
from dursor_cli.session import IdempotencyKey, JsonFlag, output_of, session_of
from dursor_cli.usage_view import usage_table, verifications_table

Wait = Annotated[bool, typer.Option("--wait", help="Follow the runs until they end.")]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", min=1, help="With --wait: stop waiting after this many seconds."),
]

RUN_HELP = """Send one instruction to one run per executor.

On an existing task: `dursor run TASK "instruction"`; or on a repository, creating its task:
`dursor run --repo URL "instruction"`. The instruction may come from a file or stdin
(`--instruction-file -`).

With --wait the runs are followed live (one colour per run on a terminal) and the exit code
says how they ended: 0 every run succeeded, 1 a run failed, 2 a run was cancelled or timed
out, or --timeout ran out (3 usage error, 4 not logged in or not allowed).

Examples:

    dursor run 9d2e4f60-... -e claude_code -e codex "Add a /healthz endpoint with a test"

    dursor run --repo https://github.com/acme/widgets -e codex:gpt-5-codex "Fix the typo"

    dursor run $TASK -e command,template=append-note --wait --timeout 900 \\
        --idempotency-key "$CI_PIPELINE_ID" --json "Bump the version"
"""


def run(
    ctx: typer.Context,
    args: Annotated[list[str], typer.Argument(metavar="[TASK] INSTRUCTION", show_default=False)],
    executor: Annotated[
        list[str] | None, typer.Option("--executor", "-e", help=SPEC_HELP, show_default=False)
    ] = None,
    executor_json: Annotated[
        list[str] | None,
        typer.Option("--executor-json", help="An executor object as JSON (repeatable)."),
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Repository URL or id: opens a new task.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of the new task.")] = None,
    instruction_file: Annotated[
        typer.FileText | None,
        typer.Option("--instruction-file", help="Read the instruction from a file (- = stdin)."),
    ] = None,
    wait: Wait = False,
    timeout: Timeout = None,
    cancel_on_timeout: Annotated[
        bool, typer.Option("--cancel-on-timeout", help="Cancel runs still going at --timeout.")
    ] = False,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Send one instruction to one run per executor."""
    task_arg, instruction = _task_and_instruction(args, repo, instruction_file)
    executors = [parse_executor(s) for s in executor or []]
    executors += [parse_executor_json(s) for s in executor_json or []]
    if not executors:
        raise CliError("name at least one --executor", ExitCode.USAGE)
    session, out = session_of(ctx), output_of(as_json)
    with session.api() as api:
        task_id = task_arg or _new_task(api, repo or "", title or instruction, idempotency_key)
        before = list(api.items(f"/v1/tasks/{task_id}/runs")) if wait else []
        body = {"instruction": instruction, "executors": executors}
        runs = api.post(f"/v1/tasks/{task_id}/runs", body, idempotency_key)["runs"]
        if not wait:
            _report_runs(out, task_id, runs, None)
            return
        if not out.as_json:
            _say_accepted(out, task_id, runs)
        outcome = _wait(api, out, task_id, runs, before, timeout, cancel_on_timeout)
    _report_runs(out, task_id, outcome.runs, outcome)
    raise typer.Exit(outcome.exit_code)


def _task_and_instruction(
    args: list[str], repo: str | None, instruction_file: Any
) -> tuple[str | None, str]:
    given = list(args)
    if instruction_file is not None:
        given.append(instruction_file.read())
    expected = 1 if repo else 2
    if len(given) != expected:
        usage = "--repo URL INSTRUCTION" if repo else "TASK INSTRUCTION (or --repo URL INSTRUCTION)"
        raise CliError(f"expected {usage}", ExitCode.USAGE)
    instruction = given[-1].strip()
    if not instruction:
        raise CliError("the instruction is empty", ExitCode.USAGE)
    return (None if repo else given[0]), instruction


def _new_task(api: Api, repo: str, instruction: str, idempotency_key: str | None) -> str:
    repo_id = repo if "://" not in repo else find_or_add_repo(api, repo, idempotency_key)["id"]
    title = instruction.splitlines()[0][:200]
    key = f"{idempotency_key}-task" if idempotency_key else None
    task = api.post("/v1/tasks", {"repo_id": repo_id, "title": title}, key)
    return str(task["id"])


def _wait(
    api: Api,
    out: Output,
    task_id: str,
    runs: list[dict[str, Any]],
    before: list[dict[str, Any]],
    timeout: float | None,
    cancel_on_timeout: bool,
) -> Outcome:
    ids = frozenset(run["id"] for run in runs)
    older = [run for run in before if run["id"] not in ids]
    watch = Watch(f"/v1/tasks/{task_id}/stream", runs, ids, task_cursor(older), timeout)
    outcome = follow(api, out, watch)
    if outcome.timed_out and cancel_on_timeout:
        for run in outcome.runs:
            if run["status"] not in TERMINAL:
                api.post(f"/v1/runs/{run['id']}/cancel", {"reason": "--timeout ran out"})
    return outcome


def _say_accepted(out: Output, task_id: str, runs: list[dict[str, Any]]) -> None:
    names = ", ".join(f"{executor_name(r)} {r['id']}" for r in runs)
    out.note(f"task {task_id}: {len(runs)} run(s) queued: {names}")


def _report_runs(
    out: Output, task_id: str, runs: list[dict[str, Any]], outcome: Outcome | None
) -> None:
    if out.as_json:
        out.json(
            {
                "task_id": task_id,
                "runs": runs,
                "outcome": outcome.name if outcome else None,
                "exit_code": int(outcome.exit_code) if outcome else 0,
            }
        )
        return
    out.console.print(runs_table(runs))
    if outcome is not None:
        out.console.print(
            f"outcome: {outcome.name}" + (" (--timeout)" if outcome.timed_out else "")
        )


def follow_up(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    content: Annotated[str, typer.Argument(metavar="INSTRUCTION", help="What to do next.")],
    wait: Wait = False,
    timeout: Timeout = None,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a follow-up instruction to a run: same agent session, same branch, next turn.

    Examples:

        dursor follow-up 7c1e9a40-... "Also add a test for the 404 case"

        dursor follow-up 7c1e9a40-... "Use the new helper" --wait --timeout 600
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        previous = api.get(f"/v1/runs/{run_id}")
        run = api.post(f"/v1/runs/{run_id}/messages", {"content": content}, idempotency_key)
        if not wait:
            _report_runs(out, run["task_id"], [run], None)
            return
        watch = Watch(f"/v1/runs/{run_id}/stream", [run], None, str(previous["last_seq"]), timeout)
        outcome = follow(api, out, watch)
    _report_runs(out, run["task_id"], outcome.runs, outcome)
    raise typer.Exit(outcome.exit_code)


def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept on the run).")] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Cancel a run (idempotent); its agent is stopped by the runner.

    Examples:

        dursor cancel 7c1e9a40-...

        dursor cancel 7c1e9a40-... --reason "going nowhere" --json
    """
    out = output_of(as_json)
    body = {"reason": reason} if reason else None
    with session_of(ctx).api() as api:
        run = api.post(f"/v1/runs/{run_id}/cancel", body, idempotency_key)
    if out.as_json:
        out.json(run)
        return
    out.console.print(f"Cancel requested for {run['id']} (status {run['status']})")


def tail(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="RUN|TASK", help="A run id or a task id.")],
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Stop after this many seconds.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Follow a run, or every run of a task, live until it ends.

    Resumes with Last-Event-ID after a network loss or a gateway restart: no line is lost
    or shown twice. Exit code as for `run --wait`.

    Examples:

        dursor tail 7c1e9a40-...

        dursor tail 9d2e4f60-... --json | jq -r 'select(.type=="log") | .data.lines[]'
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        watch = replace(_watch_of(api, target, timeout), json_lines=as_json)
        outcome = follow(api, out, watch)
    raise typer.Exit(outcome.exit_code)


def _watch_of(api: Api, target: str, timeout: float | None) -> Watch:
    try:
        run = api.get(f"/v1/runs/{target}")
    except ApiError as exc:
        if exc.status not in (404, 422):
            raise
    else:
        return Watch(f"/v1/runs/{target}/stream", [run], None, None, timeout)
    runs = list(api.items(f"/v1/tasks/{target}/runs"))
    return Watch(f"/v1/tasks/{target}/stream", runs[::-1], None, None, timeout)


def status(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(metavar="[RUN|TASK]", help="A run id or a task id (omit with --platform)."),
    ] = None,
    platform: Annotated[
        bool, typer.Option("--platform", help="The local platform's apps and sidecars instead.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """A run in detail (usage and verification per turn), a task's runs, or the platform.

    Examples:

        dursor status 7c1e9a40-...

        dursor status 9d2e4f60-...

        dursor status --platform
    """
    if platform:
        from dursor_cli.commands.platform import platform_status

        platform_status(as_json, wait=None)
        return
    if target is None:
        raise CliError("name a RUN or a TASK (or use --platform)", ExitCode.USAGE)
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        run = _run_or_none(api, target)
        if run is not None:
            _show_run(api, out, run)
            return
        runs = list(api.items(f"/v1/tasks/{target}/runs"))
    if out.as_json:
        out.json(runs)
        return
    out.console.print(runs_table(runs))


def _run_or_none(api: Api, target: str) -> dict[str, Any] | None:
    try:
        run: dict[str, Any] = api.get(f"/v1/runs/{target}")
    except ApiError as exc:
        if exc.status not in (404, 422):
            raise
        return None
    return run


def _show_run(api: Api, out: Output, run: dict[str, Any]) -> None:
    usage = api.get(f"/v1/runs/{run['id']}/usage")
    verifications = api.get(f"/v1/runs/{run['id']}/verifications")
    if out.as_json:
        out.json({"run": run, "usage": usage, "verifications": verifications})
        return
    out.console.print(runs_table([run]))
    if run.get("base_commit"):
        out.console.print(f"base commit {run['base_commit']}, branch {run['branch']}")
    out.console.print(usage_table(usage))
    if verifications:
        out.console.print(verifications_table(verifications))
    else:
        out.console.print("Verification: none (the repository has no verify commands)")


def register(app: typer.Typer) -> None:
    """Add the commands of this module."""
    app.command(help=RUN_HELP)(run)
    app.command("follow-up")(follow_up)
    app.command()(cancel)
    app.command()(tail)
    app.command()(status)
