"""`dursor task new|list|show`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dursor_cli.api import Api
from dursor_cli.errors import ApiError
from dursor_cli.output import Output, table, when
from dursor_cli.runs_view import pull_requests_table, runs_table
from dursor_cli.session import IdempotencyKey, JsonFlag, output_of, session_of

app = typer.Typer(
    help="Tasks: where runs, follow-ups and pull requests gather.", no_args_is_help=True
)


def find_or_add_repo(api: Api, url: str, idempotency_key: str | None) -> dict[str, Any]:
    """The repository registered under `url`, registering it if needed."""
    try:
        created: dict[str, Any] = api.post("/v1/repos", {"url": url}, _derived(idempotency_key))
        return created
    except ApiError as exc:
        if exc.status != 409:
            raise
    wanted = url.strip().rstrip("/")
    for repo in api.items("/v1/repos"):
        if repo["url"] in (wanted, wanted.removesuffix(".git"), wanted + ".git"):
            found: dict[str, Any] = repo
            return found
    raise ApiError(409, "Conflict", f"{url} is registered under another spelling")


def repo_id_of(api: Api, repo: str, idempotency_key: str | None) -> str:
    """A repository id from an id or a URL (registered on the fly)."""
    if "://" in repo:
        return str(find_or_add_repo(api, repo, idempotency_key)["id"])
    return repo


def _derived(key: str | None) -> str | None:
    # The key of the command names the runs; the repository and task get keys of their own.
    return f"{key}-repo" if key else None


@app.command("new")
def new(
    ctx: typer.Context,
    repo: Annotated[str, typer.Option("--repo", help="Repository id or URL.")],
    title: Annotated[str, typer.Option("--title", help="What the task is about.")],
    base: Annotated[str | None, typer.Option("--base", help="Base branch.")] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a task on a repository (registered on the fly when given as a URL).

    Examples:

        dursor task new --repo https://github.com/acme/widgets --title "Add a health endpoint"

        dursor task new --repo 1f0c2b8e-... --title "Fix the flaky test" --base develop --json
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        body = {"repo_id": repo_id_of(api, repo, idempotency_key), "title": title}
        if base:
            body["base_branch"] = base
        task = api.post("/v1/tasks", body, idempotency_key)
    if out.as_json:
        out.json(task)
        return
    out.console.print(f"Opened task [bold]{task['id']}[/]: {task['title']}")


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    repo: Annotated[str | None, typer.Option("--repo", help="Only this repository's.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first.

    Examples:

        dursor task list

        dursor task list --repo 1f0c2b8e-... --limit 5 --json
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        tasks = list(api.items("/v1/tasks", limit, repo_id=repo))
    if out.as_json:
        out.json(tasks)
        return
    rows = [[t["id"], t["title"], t["base_branch"], when(t["created_at"])] for t in tasks]
    out.console.print(table(["ID", "TITLE", "BASE", "CREATED"], rows))


@app.command("show")
def show(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="TASK", help="Task id.")],
    as_json: JsonFlag = False,
) -> None:
    """A task with its runs and pull requests.

    Examples:

        dursor task show 9d2e4f60-...

        dursor task show 9d2e4f60-... --json | jq '.runs[].status'
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        task = api.get(f"/v1/tasks/{task_id}")
        runs = list(api.items(f"/v1/tasks/{task_id}/runs"))
        prs = list(api.items(f"/v1/tasks/{task_id}/pull-requests"))
    if out.as_json:
        out.json({"task": task, "runs": runs, "pull_requests": prs})
        return
    _print_task(out, task, runs, prs)


def _print_task(
    out: Output, task: dict[str, Any], runs: list[dict[str, Any]], prs: list[dict[str, Any]]
) -> None:
    out.console.print(f"[bold]{task['title']}[/]  ({task['id']})")
    out.console.print(f"repository {task['repo_id']}, base {task['base_branch']}")
    out.console.print(runs_table(runs))
    if prs:
        out.console.print(pull_requests_table(prs))
