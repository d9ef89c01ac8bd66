"""What users may ask of each agent: run options checked against the operator's allowlists.

The executor specs say which options exist; the operator decides which values users may
request (`RunApiSettings.claude_requestable_tools`, `codex_requestable_sandboxes`,
`command_templates`). A tool or sandbox outside those lists is refused with a 422 naming
the field (an unknown template keeps its 400), before anything is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from dursor_contracts.executors import (
    ClaudeCodeExecutor,
    CodexExecutor,
    CommandExecutor,
    ExecutorSpec,
)
from dursor_kit.errors import Invalid, Unprocessable
from run_api.settings import RunApiSettings


def check_executor_options(executors: Sequence[ExecutorSpec], settings: RunApiSettings) -> None:
    """Raise for the first option value the operator does not allow."""
    for index, executor in enumerate(executors):
        field = f"executors.{index}.options"
        if isinstance(executor, CommandExecutor):
            _check_template(executor, settings, field)
        elif isinstance(executor, ClaudeCodeExecutor):
            _check_tools(executor, settings, field)
        elif isinstance(executor, CodexExecutor):
            _check_sandbox(executor, settings, field)


def _check_template(executor: CommandExecutor, settings: RunApiSettings, field: str) -> None:
    if executor.options.template not in settings.command_templates:
        raise Invalid(
            f"no command template named {executor.options.template!r}",
            code="unknown-command-template",
            field=f"{field}.template",
        )


def _check_tools(executor: ClaudeCodeExecutor, settings: RunApiSettings, field: str) -> None:
    allowed = set(settings.claude_requestable_tools)
    refused = [tool for tool in executor.options.allowed_tools or [] if tool not in allowed]
    if refused:
        raise Unprocessable(
            f"the operator does not let runs request the tool {refused[0]!r}",
            code="option-not-allowed",
            field=f"{field}.allowed_tools",
        )


def _check_sandbox(executor: CodexExecutor, settings: RunApiSettings, field: str) -> None:
    if executor.options.sandbox not in settings.codex_requestable_sandboxes:
        raise Unprocessable(
            f"the operator does not let runs request the sandbox {executor.options.sandbox!r}",
            code="option-not-allowed",
            field=f"{field}.sandbox",
        )
