"""`llm`: one direct model call with the run's model-profile key; dursor applies the diff.

The model sees the instruction and the worktree's text files (those the instruction
names first, within a byte budget) and answers with a unified diff, streamed into the
run's log as it arrives. dursor applies it with `git apply` (`patches.py`): hunks that
do not fit are logged as rejects, and the turn fails when nothing applied.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from agent_runner.agents.executors.base import AgentInvocation, AgentOutcome, AgentSink, options_of
from agent_runner.agents.executors.cli_streams import CredentialMissing, TextLines
from agent_runner.agents.executors.llm_streams import ModelCall, stream_completion
from agent_runner.agents.executors.patches import UnsafePatch, apply_patch, extract_diff
from agent_runner.agents.process import LimitExceeded
from agent_runner.agents.worktree_files import OutsideWorktree, read_inside
from agent_runner.git.untrusted_git import git
from dursor_contracts.executors import LlmOptions

SYSTEM_PROMPT = """You change a git repository as the user instructs.
Answer with the complete change as one unified diff in a ```diff block, in `git diff`
format: `--- a/<path>` and `+++ b/<path>` headers (`--- /dev/null` for a new file), `@@`
hunks with correct line numbers and three lines of context, paths relative to the
repository root. Before the block you may write one short paragraph saying what you
changed; write nothing after it."""
FILE_LIMIT_BYTES = 64 * 1024
SUMMARY_CHARS = 2000


class LlmAgent:
    """Asks a model for a diff of the change and applies it to the worktree."""

    kind = "llm"

    def __init__(self, context_bytes: int = 200_000, connect_seconds: float = 10.0) -> None:
        self._context_bytes = context_bytes
        self._connect_seconds = connect_seconds

    async def run(self, invocation: AgentInvocation, sink: AgentSink) -> AgentOutcome:
        """Call the model, stream its answer into the log, apply the diff it gives."""
        call = await self._call(invocation, sink)
        await sink.progress(f"asking {call.provider} {call.model}")
        answer = TextLines()
        usage = await self._stream(invocation, call, answer, sink)
        await answer.flush(sink)
        diff = extract_diff(answer.text)
        if diff is None:
            return AgentOutcome(exit_code=0, usage=usage, error="the model answered without a diff")
        await sink.progress("applying the model's patch")
        return await _apply(invocation, diff, answer.text, usage, sink)

    async def _call(self, invocation: AgentInvocation, sink: AgentSink) -> ModelCall:
        credential = invocation.credential
        options = options_of(invocation, LlmOptions)
        if credential is None:
            raise CredentialMissing("the llm executor needs a model profile with an API key")
        if not invocation.model:
            raise CredentialMissing("the llm executor needs a model name")
        await sink.progress("reading the worktree")
        context = await read_context(invocation, self._context_bytes, sink)
        return ModelCall(
            provider=credential.provider,
            base_url=credential.base_url,
            api_key=credential.api_key.get_secret_value(),
            model=invocation.model,
            system=SYSTEM_PROMPT,
            prompt=f"{context}\n\nInstruction:\n{invocation.instruction}",
            max_tokens=options.max_tokens,
            temperature=options.temperature,
        )

    async def _stream(
        self, invocation: AgentInvocation, call: ModelCall, answer: TextLines, sink: AgentSink
    ) -> dict[str, Any]:
        limits = invocation.limits

        async def on_text(text: str) -> None:
            await answer.add(sink, text)
            if len(answer.text.encode()) > limits.output_cap_bytes:
                raise LimitExceeded(
                    "output_cap", f"output exceeded {limits.output_cap_bytes} bytes"
                )

        # The idle watchdog is httpx's read timeout: no byte for that long ends the call.
        timeout = httpx.Timeout(limits.idle_seconds, connect=self._connect_seconds)
        try:
            async with (
                httpx.AsyncClient(timeout=timeout) as client,
                asyncio.timeout(limits.wall_clock_seconds),
            ):
                return await stream_completion(client, call, on_text)
        except TimeoutError as exc:
            raise LimitExceeded(
                "wall_clock", f"ran longer than {limits.wall_clock_seconds:.0f} s"
            ) from exc
        except httpx.ReadTimeout as exc:
            raise LimitExceeded("idle", f"no answer for {limits.idle_seconds:.0f} s") from exc


async def _apply(
    invocation: AgentInvocation, diff: str, answer: str, usage: dict[str, Any], sink: AgentSink
) -> AgentOutcome:
    try:
        result = await apply_patch(invocation.workspace, diff)
    except UnsafePatch as exc:
        return AgentOutcome(exit_code=0, usage=usage, error=f"the model's patch was refused: {exc}")
    for line in result.messages + result.rejects:
        await sink.log("system", line)
    explanation = answer.split("```", 1)[0].strip()
    summary = (
        explanation[:SUMMARY_CHARS] or f"applied the model's patch to {len(result.changed)} files"
    )
    if not result.applied:
        return AgentOutcome(
            exit_code=0, usage=usage, error="the model's patch did not apply", summary=summary
        )
    if result.rejects:
        await sink.progress(f"applied with rejects: {', '.join(result.changed)}")
    return AgentOutcome(exit_code=0, usage=usage, summary=summary)


async def read_context(
    invocation: AgentInvocation, budget: int, sink: AgentSink | None = None
) -> str:
    """The worktree's text files as `<file>` blocks: named ones first, within `budget` bytes.

    Links are never followed: one pointing out of the worktree is reported to `sink`.
    """
    listed = (await git("ls-files", "-z", cwd=invocation.workspace)).decode().split("\0")
    paths = sorted(filter(None, listed), key=lambda p: _rank(p, invocation.instruction))
    blocks: list[str] = []
    for path in paths:
        try:
            text = _text_file(invocation.workspace, path)
        except OutsideWorktree:
            if sink is not None:
                await sink.log(
                    "system", f"not shown to the model: {path} links out of the worktree"
                )
            continue
        if text is None or len(text) > budget:
            continue
        budget -= len(text)
        blocks.append(f'<file path="{path}">\n{text}\n</file>')
    return (
        "Repository files:\n" + "\n".join(blocks) if blocks else "The repository has no text files."
    )


def _rank(path: str, instruction: str) -> tuple[int, str]:
    named = path in instruction or PurePosixPath(path).name in instruction
    return (0 if named else 1, path)


def _text_file(worktree: Path, path: str) -> str | None:
    data = read_inside(worktree, path, FILE_LIMIT_BYTES)
    if data is None or b"\0" in data[:8192]:
        return None
    return data.decode(errors="replace")
