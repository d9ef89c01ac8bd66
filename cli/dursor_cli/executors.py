"""`--executor` specs: `TYPE[:MODEL][,KEY=VALUE…]` → the API's executor objects."""

from __future__ import annotations

import json
from typing import Any

from dursor_cli.errors import CliError, ExitCode

KNOWN = ("claude_code", "codex", "gemini", "llm", "command")
SPEC_HELP = (
    "TYPE[:MODEL][,KEY=VALUE…], repeatable: claude_code, codex:gpt-5-codex, "
    "llm:gpt-4.1,profile=ID, command,template=append-note. KEY=VALUE go to the executor's "
    "options (values that parse as JSON are JSON); `profile` names a model profile."
)


def parse_executor(spec: str) -> dict[str, Any]:
    """One executor object from its spec; exit 3 on a malformed one."""
    head, *pairs = spec.split(",")
    kind, _, model = head.partition(":")
    if kind not in KNOWN:
        raise CliError(f"unknown executor {kind!r} (known: {', '.join(KNOWN)})", ExitCode.USAGE)
    executor: dict[str, Any] = {"type": kind}
    if model:
        executor["model"] = model
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"executor option {pair!r} is not KEY=VALUE", ExitCode.USAGE)
        if key == "profile":
            executor["model_profile_id"] = value
        else:
            options[key] = _value(value)
    if options:
        executor["options"] = options
    return executor


def parse_executor_json(raw: str) -> dict[str, Any]:
    """An executor object given whole as JSON."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"--executor-json is not JSON: {exc}", ExitCode.USAGE) from exc
    if not isinstance(value, dict):
        raise CliError("--executor-json must be a JSON object", ExitCode.USAGE)
    return value


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
