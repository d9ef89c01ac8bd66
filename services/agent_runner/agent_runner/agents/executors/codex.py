"""`codex`: the Codex CLI (`codex exec --json`), its JSONL events parsed into events.

Codex 0.171 reads no base-URL variable for its built-in OpenAI provider, so every turn
defines a provider of its own with `-c` overrides: the run's base URL, the key read
from `OPENAI_API_KEY`, the Responses API over HTTPS (`wire_api = "responses"`; the
WebSocket transport is off so a gateway or proxy sees plain HTTPS). Nothing is written
to the agent's config file. Commands run in Codex's own `workspace-write` sandbox by
default. A follow-up turn is `codex exec resume <thread id>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent_runner.agents.executors.base import AgentInvocation, AgentOutcome, AgentSink, options_of
from agent_runner.agents.executors.cli_streams import (
    ProviderAccess,
    StreamReport,
    describe_tool,
    log_text,
    resolve_access,
    run_json_cli,
    session_to_resume,
)
from agent_runner.agents.process import scrubbed_env
from dursor_contracts.executors import CodexOptions

OPENAI_BASE_URL = "https://api.openai.com/v1"
PROVIDER = "dursor"
USAGE_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
OUTPUT_LINES = 20


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML), for `-c key=value`."""
    return json.dumps(value)


def session_file(thread: str) -> str:
    """Where Codex keeps a thread, as a glob under its HOME."""
    return f".codex/sessions/*/*/*/rollout-*-{thread}.jsonl"


class CodexAgent:
    """Runs one turn of `codex exec` in the run's worktree."""

    kind = "codex"

    def __init__(
        self, command: Sequence[str], access: ProviderAccess, sandbox: str = "workspace-write"
    ) -> None:
        self._command = list(command)
        self._access = access
        self._sandbox = sandbox

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Start or resume the thread and run the turn to its end."""
        key, base_url = resolve_access(invocation, "openai", self._access)
        resume = await session_to_resume(invocation, sink, session_file, "thread")
        await sink.progress("resuming Codex thread" if resume else "starting Codex")
        parser = CodexStream()
        parser.report.session_id = resume
        argv = self.argv(invocation, base_url or OPENAI_BASE_URL, resume)
        env = scrubbed_env(invocation.home, {"OPENAI_API_KEY": key}, invocation.environment)
        return await run_json_cli(argv, invocation, env, parser, sink, base_url or OPENAI_BASE_URL)

    def argv(self, invocation: AgentInvocation, base_url: str, resume: str | None) -> list[str]:
        """The command line of one turn; `-` reads the instruction from stdin."""
        options = options_of(invocation, CodexOptions)
        # The run's own choice if it made one, else this worker's default.
        sandbox = options.sandbox if "sandbox" in options.model_fields_set else self._sandbox
        if invocation.jail is not None:
            # Our jail is the boundary; Codex cannot nest its own bubblewrap inside it.
            sandbox = "danger-full-access"
        settings = {
            "model_provider": toml_string(PROVIDER),
            f"model_providers.{PROVIDER}.name": toml_string(PROVIDER),
            f"model_providers.{PROVIDER}.base_url": toml_string(base_url),
            f"model_providers.{PROVIDER}.env_key": toml_string("OPENAI_API_KEY"),
            f"model_providers.{PROVIDER}.wire_api": toml_string("responses"),
            f"model_providers.{PROVIDER}.supports_websockets": "false",
            "sandbox_mode": toml_string(sandbox),
            "approval_policy": toml_string("never"),
        }
        argv = [*self._command, "exec", "--json", "--skip-git-repo-check"]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        if invocation.model:
            argv += ["--model", invocation.model]
        return argv + (["resume", resume, "-"] if resume else ["-"])


class CodexStream:
    """Parses `codex exec --json`: thread, items (messages, commands, edits), turn results."""

    def __init__(self) -> None:
        self.report = StreamReport()

    async def on_event(self, event: dict[str, Any], sink: AgentSink) -> None:
        """Dispatch on the event's type."""
        kind = event.get("type")
        if kind == "thread.started":
            self.report.session_id = event.get("thread_id")
        elif kind == "item.started":
            await self._started(event.get("item", {}), sink)
        elif kind == "item.completed":
            await self._completed(event.get("item", {}), sink)
        elif kind == "turn.completed":
            self._add_usage(event.get("usage") or {})
        elif kind == "turn.failed":
            self.report.error = f"Codex: {(event.get('error') or {}).get('message', 'turn failed')}"
        elif kind == "error":
            await sink.log("agent", f"codex: {event.get('message', '')}")

    async def finish(self, sink: AgentSink) -> None:
        """Nothing is buffered: Codex prints whole items."""

    async def _started(self, item: dict[str, Any], sink: AgentSink) -> None:
        if item.get("type") == "command_execution":
            await sink.progress(describe_tool("shell", {"command": item.get("command", "")}))
        elif item.get("type") == "mcp_tool_call":
            await sink.progress(describe_tool(str(item.get("tool", "tool")), item.get("arguments")))

    async def _completed(self, item: dict[str, Any], sink: AgentSink) -> None:
        kind = item.get("type")
        if kind == "agent_message":
            self.report.summary = item.get("text") or self.report.summary
            await log_text(sink, item.get("text", ""))
        elif kind == "command_execution":
            await self._command_done(item, sink)
        elif kind == "file_change":
            paths = ", ".join(str(c.get("path")) for c in item.get("changes", []))
            await sink.progress(f"edited {paths}")
        elif kind == "error":
            await sink.log("agent", f"codex: {item.get('message', '')}")

    async def _command_done(self, item: dict[str, Any], sink: AgentSink) -> None:
        output = str(item.get("aggregated_output") or "").splitlines()
        for line in output[-OUTPUT_LINES:]:
            await sink.log("agent", line)
        if item.get("exit_code") not in (0, None):
            await sink.log(
                "agent", f"command exited with {item['exit_code']}: {item.get('command')}"
            )

    def _add_usage(self, usage: dict[str, Any]) -> None:
        for key in USAGE_KEYS:
            if isinstance(usage.get(key), int):
                self.report.usage[key] = self.report.usage.get(key, 0) + usage[key]
