"""`dursor repo add|list`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dursor_cli.output import table, when
from dursor_cli.session import IdempotencyKey, JsonFlag, output_of, session_of

app = typer.Typer(help="Repositories agents run on.", no_args_is_help=True)
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")]


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="https://<host>/<owner>/<repo> (file:// locally)")],
    default_branch: Annotated[
        str, typer.Option("--default-branch", help="Branch tasks start from.")
    ] = "main",
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a repository.

    Examples:

        dursor repo add https://github.com/acme/widgets

        dursor repo add file:///srv/git/widgets.git --default-branch trunk --json
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        repo = api.post(
            "/v1/repos", {"url": url, "default_branch": default_branch}, idempotency_key
        )
    if out.as_json:
        out.json(repo)
        return
    out.console.print(f"Registered {repo['url']} as [bold]{repo['id']}[/]")


@app.command("list")
def list_repos(ctx: typer.Context, limit: Limit = None, as_json: JsonFlag = False) -> None:
    """List registered repositories, newest first.

    Examples:

        dursor repo list

        dursor repo list --json | jq -r '.[].url'
    """
    out = output_of(as_json)
    with session_of(ctx).api() as api:
        repos = list(api.items("/v1/repos", limit))
    if out.as_json:
        out.json(repos)
        return
    out.console.print(table(["ID", "URL", "BRANCH", "CREATED"], map(_repo_row, repos)))


def _repo_row(repo: dict[str, Any]) -> list[str]:
    return [repo["id"], repo["url"], repo["default_branch"], when(repo["created_at"])]
