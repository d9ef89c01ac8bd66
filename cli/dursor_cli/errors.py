"""Exit codes and the errors that end a command with one line on stderr."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import httpx


class ExitCode(IntEnum):
    """What `dursor` exits with; CI pipelines branch on these."""

    OK = 0
    FAILED = 1
    CANCELLED = 2  # a run was cancelled or timed out, or --timeout ran out
    USAGE = 3  # bad arguments, or the API refused the request as invalid
    AUTH = 4  # not logged in, token expired, or the role does not allow it


class CliError(Exception):
    """Ends the command: `message` on one line of stderr, then exit with `code`."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ApiError(CliError):
    """The gateway answered with an error (problem+json where it could)."""

    def __init__(self, status: int, title: str, detail: str | None) -> None:
        text = f"{title} ({status})" + (f": {detail}" if detail else "")
        super().__init__(text, exit_code_for(status))
        self.status = status
        self.title = title
        self.detail = detail

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """The error a non-2xx response stands for, from its problem+json when it has one."""
        title, detail = response.reason_phrase or "Error", None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            title = str(body.get("title") or title)
            detail = _detail_of(body)
        return cls(response.status_code, title, detail)


def _detail_of(body: dict[str, Any]) -> str | None:
    detail = body.get("detail")
    params = body.get("invalid-params") or []
    if isinstance(params, list) and params:
        reasons = "; ".join(
            f"{p.get('name')}: {p.get('reason')}"
            for p in params
            if isinstance(p, dict) and str(p.get("reason")) not in str(detail)
        )
        if reasons:
            detail = f"{detail} ({reasons})" if detail else reasons
    return " ".join(str(detail).split()) if detail else None


def exit_code_for(status: int) -> ExitCode:
    """401 and 403 are auth; other 4xx are the caller's mistake; the rest are failures."""
    if status in (401, 403):
        return ExitCode.AUTH
    if 400 <= status < 500 and status not in (408, 429):
        return ExitCode.USAGE
    return ExitCode.FAILED
