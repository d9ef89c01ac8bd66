"""`claude_code`: the Claude Code CLI, headless, its stream-json events parsed into events.

Claude Code runs as `claude -p --output-format stream-json --verbose` with the
instruction on stdin. A follow-up turn resumes the session (`--resume <id>`) whose
transcript lives under the run's HOME. Permissions: as root, Claude Code refuses
`--dangerously-skip-permissions`, so the default is `--permission-mode acceptEdits`
(file edits in the worktree are allowed without a prompt) plus the tools the worker and
the run allow with `--allowedTools`; a worker that runs as an unprivileged user (the
container image does) may choose `bypassPermissions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
from dursor_contracts.executors import ClaudeCodeOptions

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
ERROR_TEXT_CHARS = 500


def session_file(session: str) -> str:
    """Where Claude Code keeps a session, as a glob under its HOME."""
    return f".claude/projects/*/{session}.jsonl"


class ClaudeCodeAgent:
    """Runs one turn of Claude Code in the run's worktree."""

    kind = "claude_code"

    def __init__(
        self,
        command: Sequence[str],
        access: ProviderAccess,
        permission_mode: str = "acceptEdits",
        allowed_tools: Sequence[str] = (),
    ) -> None:
        self._command = list(command)
        self._access = access
        self._permission_mode = permission_mode
        self._allowed_tools = list(allowed_tools)

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Start or resume the session and run it to its result."""
        key, base_url = resolve_access(invocation, "anthropic", self._access)
        resume = await session_to_resume(invocation, sink, session_file, "session")
        env = {"ANTHROPIC_API_KEY": key, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        if base_url:
            env["ANTHROPIC_BASE_URL"] = base_url
        await sink.progress("resuming Claude Code session" if resume else "starting Claude Code")
        parser = ClaudeStream(invocation.on_usage)
        parser.report.session_id = resume
        argv = self.argv(invocation, resume)
        env = scrubbed_env(invocation.home, env, invocation.environment)
        return await run_json_cli(argv, invocation, env, parser, sink, base_url)

    def argv(self, invocation: AgentInvocation, resume: str | None) -> list[str]:
        """The command line of one turn (the instruction goes in on stdin)."""
        argv = [*self._command, "-p", "--output-format", "stream-json", "--verbose"]
        argv += ["--permission-mode", self._permission_mode]
        options = options_of(invocation, ClaudeCodeOptions)
        tools = [*self._allowed_tools, *(options.allowed_tools or [])]
        if tools:
            argv += ["--allowedTools", ",".join(tools)]
        if options.max_turns:
            argv += ["--max-turns", str(options.max_turns)]
        if invocation.model:
            argv += ["--model", invocation.model]
        return argv + (["--resume", resume] if resume else [])


class ClaudeStream:
    """Parses Claude Code's stream-json: init, assistant and user messages, the result."""

    def __init__(self, on_usage: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self.report = StreamReport()
        self._on_usage = on_usage
        # message id -> its usage: each content block of a message repeats the same usage.
        self._messages: dict[str, dict[str, int]] = {}

    async def on_event(self, event: dict[str, Any], sink: AgentSink) -> None:
        """Dispatch on the event's type."""
        self.report.session_id = event.get("session_id") or self.report.session_id
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            session, model = event.get("session_id"), event.get("model")
            await sink.progress(f"Claude Code session {session} ({model})")
        elif kind == "assistant":
            await self._assistant(event.get("message", {}), sink)
        elif kind == "user":
            await self._tool_errors(event.get("message", {}), sink)
        elif kind == "result":
            self._result(event)

    async def finish(self, sink: AgentSink) -> None:
        """Nothing is buffered: Claude Code prints whole messages."""

    async def _assistant(self, message: dict[str, Any], sink: AgentSink) -> None:
        self._count(message)
        for block in message.get("content", []):
            if block.get("type") == "text":
                await log_text(sink, block.get("text", ""))
            elif block.get("type") == "tool_use":
                await sink.progress(describe_tool(block.get("name", "tool"), block.get("input")))

    async def _tool_errors(self, message: dict[str, Any], sink: AgentSink) -> None:
        content = message.get("content", [])
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_result" and block.get("is_error"):
                text = _text_of(block.get("content", ""))
                await sink.log("agent", f"tool error: {text[:ERROR_TEXT_CHARS]}")

    def _count(self, message: dict[str, Any]) -> None:
        """The turn's usage so far, summed over its model calls, shown to `on_usage`."""
        usage = message.get("usage")
        if self._on_usage is None or not isinstance(usage, dict):
            return
        found = {k: v for k in USAGE_KEYS if isinstance(v := usage.get(k), int)}
        self._messages[str(message.get("id"))] = found
        so_far: dict[str, int] = {}
        for counts in self._messages.values():
            for key, value in counts.items():
                so_far[key] = so_far.get(key, 0) + value
        self._on_usage(so_far)

    def _result(self, event: dict[str, Any]) -> None:
        usage = event.get("usage") or {}
        self.report.usage = {k: usage[k] for k in USAGE_KEYS if k in usage}
        for key in ("total_cost_usd", "num_turns", "duration_ms"):
            if key in event:
                self.report.usage[key] = event[key]
        result = event.get("result")
        self.report.summary = result if isinstance(result, str) and result else None
        if event.get("is_error") or event.get("subtype") != "success":
            detail = result or event.get("subtype") or "error"
            self.report.error = f"Claude Code: {detail}"[:ERROR_TEXT_CHARS]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
