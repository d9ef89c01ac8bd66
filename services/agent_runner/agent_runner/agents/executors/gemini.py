"""`gemini`: the Gemini CLI, headless (`--output-format stream-json`), events parsed.

Gemini CLI 0.61 takes the key from `GEMINI_API_KEY` and a base URL from
`GOOGLE_GEMINI_BASE_URL`. That variable alone would switch it to its "gateway" auth
type, which headless mode rejects ("Invalid auth method selected"), so the run's HOME
gets a settings file choosing API-key auth (and no auto-update or usage statistics).
dursor picks the session id of the first turn (`--session-id`) and a follow-up turn
resumes it (`--resume <id>`). `GEMINI_CLI_NO_RELAUNCH` keeps it from re-executing
itself with half the machine's memory as its heap.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_runner.agents.executors.base import AgentInvocation, AgentOutcome, AgentSink
from agent_runner.agents.executors.cli_streams import (
    ProviderAccess,
    StreamReport,
    TextLines,
    describe_tool,
    resolve_access,
    run_json_cli,
    session_to_resume,
)
from agent_runner.agents.process import scrubbed_env

SETTINGS: dict[str, dict[str, Any]] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
}
USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cached",
    "total_tokens",
    "tool_calls",
    "duration_ms",
)


def write_settings(home: Path) -> None:
    """Merge dursor's settings into `$HOME/.gemini/settings.json`."""
    path = home / ".gemini" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    for section, values in SETTINGS.items():
        current[section] = _merged(current.get(section, {}), values)
    path.write_text(json.dumps(current, indent=2))


def _merged(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    result = dict(current)
    for key, value in wanted.items():
        result[key] = _merged(result.get(key, {}), value) if isinstance(value, dict) else value
    return result


def session_file(session: str) -> str:
    """Where Gemini CLI keeps a session, as a glob under its HOME."""
    # Gemini names a session file after the first eight characters of its id.
    return f".gemini/tmp/*/chats/session-*-{session[:8]}.json*"


class GeminiAgent:
    """Runs one turn of the Gemini CLI in the run's worktree."""

    kind = "gemini"

    def __init__(
        self, command: Sequence[str], access: ProviderAccess, approval_mode: str = "auto_edit"
    ) -> None:
        self._command = list(command)
        self._access = access
        self._approval_mode = approval_mode

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Start or resume the session and run it to its result."""
        key, base_url = resolve_access(invocation, "google", self._access)
        await asyncio.to_thread(write_settings, invocation.home)
        resume = await session_to_resume(invocation, sink, session_file, "session")
        session = resume or str(uuid.uuid4())
        env = {"GEMINI_API_KEY": key, "GEMINI_CLI_NO_RELAUNCH": "true"}
        if base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = base_url
        await sink.progress("resuming Gemini CLI session" if resume else "starting Gemini CLI")
        parser = GeminiStream()
        parser.report.session_id = session
        argv = self.argv(invocation, session, resume=resume is not None)
        return await run_json_cli(
            argv,
            invocation,
            scrubbed_env(invocation.home, env, invocation.environment),
            parser,
            sink,
            base_url,
        )

    def argv(self, invocation: AgentInvocation, session: str, resume: bool) -> list[str]:
        """The command line of one turn (the instruction goes in on stdin)."""
        argv = [*self._command, "--output-format", "stream-json", "--skip-trust"]
        argv += ["--approval-mode", self._approval_mode]
        if invocation.model:
            argv += ["--model", invocation.model]
        return [*argv, "--resume" if resume else "--session-id", session]


class GeminiStream:
    """Parses Gemini CLI's stream-json: init, messages (streamed deltas), tools, result."""

    def __init__(self) -> None:
        self.report = StreamReport()
        self._text = TextLines()

    async def on_event(self, event: dict[str, Any], sink: AgentSink) -> None:
        """Dispatch on the event's type."""
        kind = event.get("type")
        if kind == "init":
            self.report.session_id = event.get("session_id") or self.report.session_id
            await sink.progress(
                f"Gemini CLI session {event.get('session_id')} ({event.get('model')})"
            )
        elif kind == "message" and event.get("role") == "assistant":
            await self._text.add(sink, str(event.get("content", "")))
        elif kind == "tool_use":
            await self._text.flush(sink)
            await sink.progress(describe_tool(str(event.get("tool_name")), event.get("parameters")))
        elif kind == "tool_result" and event.get("status") != "success":
            await sink.log("agent", f"tool error: {json.dumps(event.get('error', event))[:500]}")
        elif kind == "error":
            await sink.log("agent", f"gemini: {event.get('message', '')}")
        elif kind == "result":
            self._result(event)

    async def finish(self, sink: AgentSink) -> None:
        """Log the last unfinished line of the answer."""
        await self._text.flush(sink)
        self.report.summary = self._text.text.strip() or None

    def _result(self, event: dict[str, Any]) -> None:
        stats = event.get("stats") or {}
        self.report.usage = {k: stats[k] for k in USAGE_KEYS if k in stats}
        if event.get("status") != "success":
            error = event.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            self.report.error = f"Gemini CLI: {message or event.get('status')}"
