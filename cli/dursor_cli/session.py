"""What every command shares: the gateway, the stored credential, the output mode."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated

import typer

from dursor_cli.api import Api
from dursor_cli.config import resolve_gateway
from dursor_cli.credentials import CredentialStore
from dursor_cli.errors import CliError, ExitCode
from dursor_cli.output import Output

JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print the result as JSON (shapes: docs/cli-json.md)."),
]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        envvar="DURSOR_IDEMPOTENCY_KEY",
        help="Sent as Idempotency-Key: a retried CI step creates nothing twice.",
    ),
]


@dataclass
class Session:
    """Built once per invocation by the root callback."""

    gateway_option: str | None = None
    _store: CredentialStore | None = field(default=None, repr=False)

    @property
    def gateway(self) -> str:
        """The gateway URL this invocation talks to."""
        return resolve_gateway(self.gateway_option)

    @property
    def store(self) -> CredentialStore:
        """Where credentials live."""
        if self._store is None:
            self._store = CredentialStore.default()
        return self._store

    def token(self) -> str:
        """`$DURSOR_TOKEN`, else the stored credential of this gateway; exit 4 without one."""
        if given := os.environ.get("DURSOR_TOKEN"):
            return given
        credential = self.store.load(self.gateway)
        if credential is None:
            raise CliError(f"not logged in to {self.gateway}: run `dursor login`", ExitCode.AUTH)
        if credential.expired:
            raise CliError(
                f"the session at {self.gateway} expired: run `dursor login`", ExitCode.AUTH
            )
        return credential.access_token

    def api(self, authenticated: bool = True) -> Api:
        """A client of the gateway, with the caller's token unless told otherwise."""
        return Api(self.gateway, self.token() if authenticated else None)


def session_of(ctx: typer.Context) -> Session:
    """The invocation's session (set by the root callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Session):
        obj = Session()
        ctx.find_root().obj = obj
    return obj


def output_of(as_json: bool) -> Output:
    """The output of a command."""
    return Output(as_json)
