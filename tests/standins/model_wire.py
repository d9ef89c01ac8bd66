"""Wire formats of the model stand-in: reading each provider's request, writing its answer.

Readers turn a request into a `Conversation` (the latest user instruction, the tool
results sent since, the tools offered); writers render one scripted `Step` as that
provider's (streamed) response, using the tool names of the CLI that asked.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

USAGE_IN, USAGE_OUT = 120, 30
CHUNK_CHARS = 8


@dataclass(frozen=True)
class Usage:
    """The tokens one answer reports (in each provider's own usage fields)."""

    input: int
    output: int


def usage_for(conversation: Conversation) -> Usage:
    """Token counts that differ from request to request, so sums can be checked exactly."""
    results, said = len(conversation.tool_results), len(conversation.instructions)
    return Usage(USAGE_IN + 11 * results + 7 * said, USAGE_OUT + 3 * results)


@dataclass(frozen=True)
class WriteFile:
    """Step: the agent writes `content` to `path` (relative to its working directory)."""

    path: str
    content: str


@dataclass(frozen=True)
class RunShell:
    """Step: the agent runs a shell command."""

    command: str


@dataclass(frozen=True)
class Reply:
    """Step: the final text answer of a turn."""

    text: str


Step = WriteFile | RunShell | Reply


@dataclass(frozen=True)
class Conversation:
    """What a request says about the conversation so far."""

    instruction: str
    tool_results: tuple[str, ...]
    tools: tuple[str, ...]
    instructions: tuple[str, ...] = ()


class Reader:
    """Accumulates instructions and tool results while walking a conversation."""

    def __init__(self) -> None:
        self.instructions: list[str] = []
        self.results: list[str] = []

    def instruction(self, texts: Sequence[str]) -> None:
        """The last text that is not harness context (`<system-reminder>` and the like)."""
        said = [t for t in texts if t.strip() and not t.lstrip().startswith("<")]
        if said:
            self.instructions.append(said[-1])
            self.results = []

    def result(self, content: Any) -> None:
        self.results.append(content if isinstance(content, str) else json.dumps(content))

    def done(self, tools: Sequence[str]) -> Conversation:
        last = self.instructions[-1] if self.instructions else ""
        return Conversation(last, tuple(self.results), tuple(tools), tuple(self.instructions))


def texts_of(content: Any) -> list[str]:
    """The texts of a string or of a list of content blocks/parts."""
    if isinstance(content, str):
        return [content]
    return [str(b["text"]) for b in content if isinstance(b, dict) and "text" in b]


def _text_of(content: Any) -> str:
    return "".join(texts_of(content))


def chunks(text: str) -> Iterator[str]:
    """`text` in small pieces, as a model streams it."""
    for start in range(0, len(text), CHUNK_CHARS):
        yield text[start : start + CHUNK_CHARS]


def sse(events: Iterator[str]) -> StreamingResponse:
    """A server-sent events response."""
    return StreamingResponse(events, media_type="text/event-stream")


def _shell_write(step: WriteFile) -> str:
    return f"printf %s {shlex.quote(step.content)} > {shlex.quote(step.path)}"


def error_answer(provider: str, status: int, message: str) -> Response:
    """An error in the provider's own JSON shape."""
    if provider == "anthropic":
        kind = "authentication_error" if status == 401 else "invalid_request_error"
        return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status)
    if provider == "google":
        return JSONResponse(
            {"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}}, status
        )
    error = {"message": message, "type": "invalid_request_error", "code": None}
    return JSONResponse({"error": error}, status)


# --- Anthropic Messages (Claude Code) ----------------------------------------------


def anthropic_conversation(body: dict[str, Any]) -> Conversation:
    """Instruction and tool results from a Messages request."""
    reader = Reader()
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        blocks = message["content"]
        blocks = [{"type": "text", "text": blocks}] if isinstance(blocks, str) else blocks
        results = [b for b in blocks if b.get("type") == "tool_result"]
        for block in results:
            reader.result(_text_of(block.get("content", "")))
        if not results:
            reader.instruction(texts_of(blocks))
    return reader.done([t.get("name", "") for t in body.get("tools", [])])


def _anthropic_block(step: Step, call_id: str) -> dict[str, Any]:
    if isinstance(step, WriteFile):
        args = {"file_path": step.path, "content": step.content}
        return {"type": "tool_use", "id": f"toolu_{call_id}", "name": "Write", "input": args}
    if isinstance(step, RunShell):
        args = {"command": step.command, "description": "run a command"}
        return {"type": "tool_use", "id": f"toolu_{call_id}", "name": "Bash", "input": args}
    return {"type": "text", "text": step.text}


def anthropic_answer(body: dict[str, Any], step: Step, usage: Usage, call_id: str) -> Response:
    """A Messages response: one content block, streamed when asked."""
    block = _anthropic_block(step, call_id)
    stop = "tool_use" if block["type"] == "tool_use" else "end_turn"
    message = {
        "id": f"msg_{call_id}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude"),
        "content": [block],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage.input, "output_tokens": usage.output},
    }
    if not body.get("stream"):
        return JSONResponse(message)
    return sse(_anthropic_events(message, block, stop, usage))


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _anthropic_events(
    message: dict[str, Any], block: dict[str, Any], stop: str, usage: Usage
) -> Iterator[str]:
    start = message | {"content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": usage.input, "output_tokens": 1}
    yield _event("message_start", {"type": "message_start", "message": start})
    opening: dict[str, Any] = {"input": {}} if block["type"] == "tool_use" else {"text": ""}
    empty = block | opening
    yield _event(
        "content_block_start", {"type": "content_block_start", "index": 0, "content_block": empty}
    )
    if block["type"] == "tool_use":
        deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
    else:
        deltas = [{"type": "text_delta", "text": part} for part in chunks(block["text"])]
    for delta in deltas:
        yield _event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": usage.output},
        },
    )
    yield _event("message_stop", {"type": "message_stop"})


# --- OpenAI Responses (Codex) -------------------------------------------------------


def responses_conversation(body: dict[str, Any]) -> Conversation:
    """Instruction and tool outputs from a Responses request."""
    reader = Reader()
    items = body.get("input", [])
    for item in [{"role": "user", "content": items}] if isinstance(items, str) else items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "user":
            reader.instruction(texts_of(item.get("content", "")))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            reader.result(item.get("output", ""))
    return reader.done(responses_tools(body))


def responses_tools(body: dict[str, Any]) -> list[str]:
    """Tools offered at the top level and, for code-mode models, in `additional_tools` items."""
    tools = list(body.get("tools", []))
    for item in body.get("input", []):
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            tools += item.get("tools", [])
    names = []
    for tool in tools:
        names += (
            [t.get("name", "") for t in tool.get("tools", [])]
            if tool.get("type") == "namespace"
            else [tool.get("name", "")]
        )
    return [n for n in names if n]


def _responses_item(step: Step, tools: Sequence[str], call_id: str) -> dict[str, Any]:
    if isinstance(step, Reply):
        content = [{"type": "output_text", "text": step.text, "annotations": []}]
        return {
            "type": "message",
            "id": f"msg_{call_id}",
            "role": "assistant",
            "status": "completed",
            "content": content,
        }
    command = _shell_write(step) if isinstance(step, WriteFile) else step.command
    if "exec_command" not in tools and "exec" in tools:
        # Code mode: the model writes JavaScript that calls the nested tools.
        call = json.dumps({"cmd": command})
        script = f"const result = await tools.exec_command({call});\ntext(result);"
        return {
            "type": "custom_tool_call",
            "id": f"ctc_{call_id}",
            "call_id": f"call_{call_id}",
            "name": "exec",
            "input": script,
            "status": "completed",
        }
    name, args_of = "exec_command", dict[str, Any](cmd=command)
    if "exec_command" not in tools and "shell" in tools:
        name, args_of = "shell", {"command": ["bash", "-lc", command]}
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": f"call_{call_id}",
        "name": name,
        "arguments": json.dumps(args_of),
        "status": "completed",
    }


def responses_answer(body: dict[str, Any], step: Step, usage: Usage, call_id: str) -> Response:
    """A streamed Responses answer: one output item, then `response.completed`."""
    item = _responses_item(step, responses_tools(body), call_id)
    return sse(_responses_events(body, item, usage, call_id))


def _responses_events(
    body: dict[str, Any], item: dict[str, Any], usage: Usage, call_id: str
) -> Iterator[str]:
    response: dict[str, Any] = {
        "id": f"resp_{call_id}",
        "object": "response",
        "model": body.get("model"),
        "status": "in_progress",
        "output": [],
    }
    yield _event("response.created", {"type": "response.created", "response": response})
    yield _event(
        "response.output_item.added",
        {"type": "response.output_item.added", "output_index": 0, "item": item},
    )
    if item["type"] == "message":
        for part in chunks(item["content"][0]["text"]):
            yield _event(
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": part,
                },
            )
    yield _event(
        "response.output_item.done",
        {"type": "response.output_item.done", "output_index": 0, "item": item},
    )
    counts = {
        "input_tokens": usage.input,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.input + usage.output,
    }
    done = response | {"status": "completed", "output": [item], "usage": counts}
    yield _event("response.completed", {"type": "response.completed", "response": done})


# --- OpenAI Chat Completions (the llm executor) -------------------------------------


def chat_conversation(body: dict[str, Any]) -> Conversation:
    """Instruction and tool results from a Chat Completions request."""
    reader = Reader()
    for message in body.get("messages", []):
        if message.get("role") == "user":
            reader.instruction(texts_of(message.get("content", "")))
        elif message.get("role") == "tool":
            reader.result(_text_of(message.get("content", "")))
    return reader.done([t["function"]["name"] for t in body.get("tools", [])])


def chat_answer(body: dict[str, Any], step: Step, counts: Usage, call_id: str) -> Response:
    """Text only (the llm executor offers no tools), streamed as chunks when asked."""
    text = step.text if isinstance(step, Reply) else ""
    usage = {
        "prompt_tokens": counts.input,
        "completion_tokens": counts.output,
        "total_tokens": counts.input + counts.output,
    }
    base = {"id": f"chatcmpl-{call_id}", "created": 0, "model": body.get("model")}
    if not body.get("stream"):
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        return JSONResponse(
            base | {"object": "chat.completion", "choices": [choice], "usage": usage}
        )
    return sse(_chat_events(base | {"object": "chat.completion.chunk"}, text, usage))


def _chat_events(base: dict[str, Any], text: str, usage: dict[str, int]) -> Iterator[str]:
    def chunk(delta: dict[str, str], finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps(base | {'choices': [choice]})}\n\n"

    for part in chunks(text):
        yield chunk({"content": part}, None)
    yield chunk({}, "stop")
    yield f"data: {json.dumps(base | {'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"
