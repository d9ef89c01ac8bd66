"""Wire format of the Gemini API for the model stand-in (Gemini CLI and the `llm` executor).

Requests are `generateContent` / `streamGenerateContent` (`alt=sse`); function calls use
the Gemini CLI's tool names (`write_file`, `run_shell_command`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.standins.model_wire import (
    Conversation,
    Reader,
    RunShell,
    Step,
    Usage,
    WriteFile,
    chunks,
    sse,
    texts_of,
)


def gemini_conversation(body: dict[str, Any]) -> Conversation:
    """Instruction and function responses from a generateContent request."""
    reader = Reader()
    for content in body.get("contents", []):
        if content.get("role", "user") != "user":
            continue
        parts = content.get("parts", [])
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        for response in responses:
            reader.result(response.get("response", {}))
        if not responses:
            reader.instruction(texts_of(parts))
    tools = [d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
    return reader.done(tools)


def _gemini_part(step: Step) -> dict[str, Any]:
    if isinstance(step, WriteFile):
        return {
            "functionCall": {
                "name": "write_file",
                "args": {"file_path": step.path, "content": step.content},
            }
        }
    if isinstance(step, RunShell):
        return {"functionCall": {"name": "run_shell_command", "args": {"command": step.command}}}
    return {"text": step.text}


def gemini_answer(
    body: dict[str, Any], step: Step, usage: Usage, model: str, streaming: bool
) -> Response:
    """One candidate; streamed as SSE chunks (`alt=sse`) when asked."""
    schema = body.get("generationConfig", {}).get("responseJsonSchema")
    # Side calls (Gemini CLI's model router) ask for JSON of a schema: give a valid instance.
    part = {"text": json.dumps(sample_of(schema))} if schema else _gemini_part(step)
    parts = [{"text": p} for p in chunks(part["text"])] if "text" in part else [part]
    answer = [_gemini_chunk(model, [p], None, usage) for p in parts[:-1]]
    answer.append(_gemini_chunk(model, parts[-1:], "STOP", usage))
    if not streaming:
        return JSONResponse(_gemini_chunk(model, [part], "STOP", usage))
    return sse(f"data: {json.dumps(c)}\r\n\r\n" for c in answer)


def _gemini_chunk(
    model: str, parts: list[dict[str, Any]], finish: str | None, counts: Usage
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage = {
        "promptTokenCount": counts.input,
        "candidatesTokenCount": counts.output,
        "totalTokenCount": counts.input + counts.output,
    }
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}


def sample_of(schema: dict[str, Any]) -> Any:
    """The smallest instance of a JSON schema: first enum value, 1, "", False, [], {...}."""
    kind = str(schema.get("type", "object")).lower()
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample_of(properties[name]) for name in schema.get("required", properties)}
    return {"integer": 1, "number": 1, "string": "", "boolean": False, "array": []}.get(kind)
