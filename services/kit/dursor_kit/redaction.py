"""Credentials in URLs: query parameters whose values never reach a span, log line or metric.

A browser's EventSource carries its stream ticket in the query string, and a careless
client may put a token there; the URL attributes of spans (server and client) keep the
parameter's name and lose its value.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
# A parameter is secret when its name contains one of these (case-insensitive).
SECRET_PARAMETER_WORDS = (
    "token",
    "ticket",
    "code",
    "key",
    "secret",
    "password",
    "passwd",
    "sig",
    "credential",
    "auth",
    "session",
)
_PARAMETER = re.compile(r"(?P<name>[^&;=]*)=(?P<value>[^&;]*)")


def is_secret_parameter(name: str) -> bool:
    """True for a query parameter name that may carry a credential."""
    lowered = unquote_plus(name).lower()
    return any(word in lowered for word in SECRET_PARAMETER_WORDS)


def redact_query(query: str) -> str:
    """The query string with the values of secret parameters replaced."""

    def replace(found: re.Match[str]) -> str:
        if is_secret_parameter(found.group("name")):
            return f"{found.group('name')}={REDACTED}"
        return found.group(0)

    return _PARAMETER.sub(replace, query)


def redact_url(url: str) -> str:
    """A URL (or request target) with its secret query values and fragment replaced."""
    base, _, fragment = url.partition("#")
    path, mark, query = base.partition("?")
    redacted = path + mark + redact_query(query) if mark else path
    return redacted + (f"#{REDACTED}" if fragment else "")
