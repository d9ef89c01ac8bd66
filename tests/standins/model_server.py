"""A local, scripted stand-in for the LLM providers the agent CLIs and the `llm` executor call.

It speaks enough of each provider's HTTP API for the real CLIs: Anthropic Messages
(streamed SSE, Claude Code), OpenAI Responses (SSE, Codex) and Chat Completions (the
`llm` executor), and Gemini generateContent / streamGenerateContent (Gemini CLI). It
answers from a script: for one user instruction, a list of steps (write a file, run a
shell command, reply with text). Step *n* is sent after the CLI returned *n* tool
results for that instruction, so each CLI really executes the tool and sends its
result back before it gets the final answer. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import model_wire as wire
from tests.standins import model_wire_gemini as gemini_wire
from tests.standins.model_wire import Reply, RunShell, Step, WriteFile
from tests.support.backing import free_port

__all__ = ["ModelServer", "Recorded", "Reply", "RunShell", "Step", "WriteFile", "serving"]

DEFAULT_SCRIPT: tuple[Step, ...] = (WriteFile("NOTES.md", "hello from the agent\n"), Reply("Done."))


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    provider: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: Any
    conversation: wire.Conversation
    # The tokens the answer reported (zero for a request the stand-in does not answer).
    usage: wire.Usage

    @property
    def api_key(self) -> str:
        """The credential the client presented, whichever header its provider uses."""
        bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
        return self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or bearer


@dataclass
class ModelServer:
    """Scripted answers keyed by a substring of the user's instruction; records requests."""

    scripts: dict[str, Sequence[Step]] = field(default_factory=dict)
    default: Sequence[Step] = DEFAULT_SCRIPT
    requests: list[Recorded] = field(default_factory=list)
    # Called with each request before it is answered (the client is waiting then).
    on_request: Callable[[Recorded], None] | None = None
    # (status, message) to answer every model request with, in the provider's error format.
    failure: tuple[int, str] | None = None
    # While set and not yet set free, every request waits (a model that takes its time).
    gate: asyncio.Event | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def script_for(self, instruction: str) -> Sequence[Step]:
        """The steps for this instruction: the longest matching key wins."""
        keys = sorted((k for k in self.scripts if k in instruction), key=len, reverse=True)
        return self.scripts[keys[0]] if keys else self.default

    def step_for(self, conversation: wire.Conversation) -> Step:
        """The step to answer with: a reply when no tools were offered, else the next one."""
        steps = self.script_for(conversation.instruction)
        if not conversation.tools:
            return next((s for s in reversed(steps) if isinstance(s, Reply)), Reply("ok"))
        return steps[min(len(conversation.tool_results), len(steps) - 1)]

    def next_id(self) -> str:
        """A fresh identifier for messages and tool calls."""
        return f"{next(self._ids):06d}"

    def by(self, provider: str) -> list[Recorded]:
        """The recorded requests of one provider API, in order."""
        return [r for r in self.requests if r.provider == provider]

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/messages/count_tokens", _count_tokens, methods=["POST"]),
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", _models, methods=["GET"]),
                Route("/{version}/models/{call:path}", self._gemini, methods=["POST"]),
                Route("/{rest:path}", self._unknown, methods=["GET", "POST", "PUT", "HEAD"]),
            ]
        )

    async def _record(
        self, request: Request, provider: str, conversation: wire.Conversation, body: Any
    ) -> Recorded:
        recorded = Recorded(
            provider,
            request.url.path,
            request.url.query,
            dict(request.headers),
            body,
            conversation,
            wire.usage_for(conversation) if provider != "unknown" else wire.Usage(0, 0),
        )
        self.requests.append(recorded)
        if self.on_request is not None:
            await asyncio.to_thread(self.on_request, recorded)
        if self.gate is not None:
            await self.gate.wait()
        return recorded

    async def _anthropic(self, request: Request) -> Response:
        body = await request.json()
        conversation = wire.anthropic_conversation(body)
        recorded = await self._record(request, "anthropic", conversation, body)
        if self.failure is not None:
            return wire.error_answer("anthropic", *self.failure)
        step = self.step_for(conversation)
        return wire.anthropic_answer(body, step, recorded.usage, self.next_id())

    async def _responses(self, request: Request) -> Response:
        body = await request.json()
        conversation = wire.responses_conversation(body)
        recorded = await self._record(request, "openai-responses", conversation, body)
        if self.failure is not None:
            return wire.error_answer("openai", *self.failure)
        step = self.step_for(conversation)
        return wire.responses_answer(body, step, recorded.usage, self.next_id())

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        conversation = wire.chat_conversation(body)
        recorded = await self._record(request, "openai-chat", conversation, body)
        if self.failure is not None:
            return wire.error_answer("openai", *self.failure)
        step = self.step_for(conversation)
        return wire.chat_answer(body, step, recorded.usage, self.next_id())

    async def _gemini(self, request: Request) -> Response:
        model, _, method = request.path_params["call"].partition(":")
        body = await request.json()
        if method == "countTokens":
            return JSONResponse({"totalTokens": 10})
        conversation = gemini_wire.gemini_conversation(body)
        recorded = await self._record(request, "gemini", conversation, body)
        if self.failure is not None:
            return wire.error_answer("google", *self.failure)
        step = self.step_for(conversation)
        streaming = method.startswith("stream")
        return gemini_wire.gemini_answer(body, step, recorded.usage, model, streaming)

    async def _unknown(self, request: Request) -> Response:
        body = (await request.body()).decode(errors="replace")
        await self._record(request, "unknown", wire.Conversation("", (), ()), body)
        return JSONResponse({"error": {"message": f"no route {request.url.path}"}}, 404)


async def _count_tokens(request: Request) -> Response:
    return JSONResponse({"input_tokens": 10})


async def _models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [], "models": []})


@contextlib.asynccontextmanager
async def serving(server: ModelServer, port: int | None = None) -> AsyncIterator[str]:
    """Serve `server` on a free loopback port in this event loop; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(server.app(), host="127.0.0.1", port=port, log_level="error")
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve())
    while not uvicorn_server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        await task


def main() -> None:
    """Serve the default script for manual tries: `python -m tests.standins.model_server [port]`."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18556
    print(f"scripted model server on http://127.0.0.1:{port}", flush=True)
    uvicorn.run(ModelServer().app(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
