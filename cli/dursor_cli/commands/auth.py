"""`dursor login`, `dursor logout`, `dursor whoami`."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from dursor_cli.config import save_gateway
from dursor_cli.credentials import Credential
from dursor_cli.device_code import DeviceCodeLogin, device_code_settings
from dursor_cli.errors import CliError, ExitCode
from dursor_cli.output import Output, interactive
from dursor_cli.session import JsonFlag, Session, output_of, session_of
from dursor_cli.tokens import expiry_of

LOGIN_HELP = """Sign in to a gateway and keep the credential (OS keyring, else a 0600 file).

Local mode: a username and password (prompted on a terminal, or `--password-stdin`).
Scripts and CI: a personal API token (`--token` or `$DURSOR_TOKEN`). Microsoft Entra ID:
`--device-code` (tenant and client id from `--tenant`/`--client-id` or the environment).

Examples:

    dursor login --username admin

    printf '%s' "$PASSWORD" | dursor login --username admin --password-stdin

    dursor login --token "$DURSOR_API_TOKEN" --gateway https://dursor.example.com

    dursor login --device-code --tenant contoso.onmicrosoft.com --client-id 1111-...
"""


def login(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option("--username", "-u", help="Local user.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="DURSOR_TOKEN", help="A personal API token."),
    ] = None,
    device_code: Annotated[
        bool, typer.Option("--device-code", help="Sign in with Microsoft Entra ID.")
    ] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", envvar="DURSOR_ENTRA_TENANT_ID", help="Entra tenant.")
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", envvar="DURSOR_ENTRA_CLIENT_ID", help="Entra app (client) id."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Sign in to a gateway and keep the credential."""
    session, out = session_of(ctx), output_of(as_json)
    if token:
        credential = _api_token_credential(session, token)
    elif device_code:
        settings = device_code_settings(tenant, client_id)
        flow = DeviceCodeLogin(settings, out.note)
        access_token = flow.run()
        credential = _verified(session, access_token, "entra")
    else:
        credential = _password_credential(session, username, password_stdin)
    session.store.save(credential)
    save_gateway(session.gateway)
    _report_login(out, session, credential)


def _api_token_credential(session: Session, token: str) -> Credential:
    return _verified(session, token.strip(), "api-token")


def _password_credential(session: Session, username: str | None, from_stdin: bool) -> Credential:
    if username is None:
        if not interactive():
            raise CliError("--username is required without a terminal", ExitCode.USAGE)
        username = typer.prompt("Username")
    password = _read_password(from_stdin)
    api = session.api(authenticated=False)
    try:
        answer = api.post("/v1/auth/token", {"username": username, "password": password})
    finally:
        api.close()
    expires_at = time.time() + float(answer.get("expires_in", 3600))
    verified = _verified(session, answer["access_token"], "password")
    return Credential(
        session.gateway, verified.access_token, "password", verified.username, expires_at
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif interactive():
        password = typer.prompt("Password", hide_input=True)
    else:
        raise CliError("no terminal to ask for a password: use --password-stdin", ExitCode.USAGE)
    if not password:
        raise CliError("the password is empty", ExitCode.USAGE)
    return password


def _verified(session: Session, token: str, kind: Any) -> Credential:
    """Ask the gateway who the token belongs to; a refused token ends with exit 4."""
    api = session.api(authenticated=False)
    api.client.headers["authorization"] = f"Bearer {token}"
    try:
        me = api.get("/v1/me")
    finally:
        api.close()
    return Credential(session.gateway, token, kind, str(me["username"]), expiry_of(token))


def _report_login(out: Output, session: Session, credential: Credential) -> None:
    if out.as_json:
        out.json(
            {
                "gateway": session.gateway,
                "username": credential.username,
                "kind": credential.kind,
                "expires_at": credential.expires_at,
                "stored_in": session.store.location,
            }
        )
        return
    out.console.print(
        f"Logged in to {session.gateway} as [bold]{credential.username}[/] "
        f"({credential.kind}); credentials in {session.store.location}"
    )


def logout(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Forget the credential of the gateway.

    Examples:

        dursor logout

        dursor logout --gateway https://dursor.example.com
    """
    session, out = session_of(ctx), output_of(as_json)
    removed = session.store.delete(session.gateway)
    if out.as_json:
        out.json({"gateway": session.gateway, "removed": removed})
    elif removed:
        out.console.print(f"Logged out of {session.gateway}")
    else:
        out.console.print(f"Not logged in to {session.gateway}")


def whoami(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Who the gateway says you are, and your role.

    Examples:

        dursor whoami

        dursor whoami --json | jq -r .role
    """
    session, out = session_of(ctx), output_of(as_json)
    api = session.api()
    try:
        me = api.get("/v1/me")
    finally:
        api.close()
    result = {
        "gateway": session.gateway,
        "username": me["username"],
        "role": me["role"],
        "subject": me["subject"],
        "issuer": me["issuer"],
    }
    if out.as_json:
        out.json(result)
        return
    out.console.print(f"{result['username']} ({result['role']}) at {session.gateway}")


def register(app: typer.Typer) -> None:
    """Add the commands of this module."""
    app.command(help=LOGIN_HELP)(login)
    app.command()(logout)
    app.command()(whoami)
