"""The `dursor` command: every subcommand, one-line errors, documented exit codes."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from dursor_cli.commands import auth, platform, repos, reviews, runs, tasks, usage
from dursor_cli.errors import CliError, ExitCode
from dursor_cli.session import Session

HELP = """dursor: run several AI coding agents on one instruction, from a terminal or CI.

Talks to the gateway's REST + SSE API (`--gateway`, `$DURSOR_GATEWAY`, the last login's,
or http://127.0.0.1:8080). Every command takes `--json`.

Exit codes: 0 ok · 1 failed · 2 cancelled or timed out · 3 usage error · 4 not logged in
or not allowed.

Examples:

    dursor login --username admin

    dursor run --repo https://github.com/acme/widgets -e claude_code -e codex --wait "Fix #12"

    dursor tail 9d2e4f60-...
"""

app = typer.Typer(
    name="dursor",
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    gateway: Annotated[
        str | None,
        typer.Option("--gateway", "-g", envvar="DURSOR_GATEWAY", help="The gateway's URL."),
    ] = None,
) -> None:
    """Set up the invocation's session."""
    ctx.obj = Session(gateway)


auth.register(app)
app.add_typer(repos.app, name="repo")
app.add_typer(tasks.app, name="task")
runs.register(app)
reviews.register(app)
usage.register(app)
platform.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run one command; errors are one line on stderr, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="dursor", standalone_mode=False)
    except CliError as exc:
        _fail(exc.message, exc.code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("\n")
        sys.exit(130)
    except typer.TyperException as exc:  # Click's usage errors: bad option, missing argument
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        _fail(f"{exc.format_message()}{hint}", ExitCode.USAGE)
    except Exception as exc:
        if os.environ.get("DURSOR_DEBUG"):
            raise
        _fail(f"unexpected error: {type(exc).__name__}: {exc}", ExitCode.FAILED)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: ExitCode) -> None:
    sys.stderr.write(f"dursor: {' '.join(message.split())}\n")
    sys.exit(int(code))
