"""Streaming completions from OpenAI (Chat Completions), Anthropic (Messages) and Google
(generateContent) over plain httpx: text arrives through a callback, usage is returned.

Base URLs follow each provider's SDK convention, so one model profile serves the CLIs
and this executor alike: OpenAI's includes `/v1`, Anthropic's and Google's do not.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

TextHandler = Callable[[str], Awaitable[None]]

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com",
}
ANTHROPIC_VERSION = "2023-06-01"
ERROR_BODY_CHARS = 500


class ProviderError(Exception):
    """The provider refused or broke off the call."""


@dataclass(frozen=True)
class ModelCall:
    """One completion request: who to ask, with which key, and what."""

    provider: str
    base_url: str | None
    api_key: str
    model: str
    system: str
    prompt: str
    max_tokens: int
    temperature: float

    @property
    def root(self) -> str:
        """The base URL without a trailing slash."""
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")


async def stream_completion(
    client: httpx.AsyncClient, call: ModelCall, on_text: TextHandler
) -> dict[str, Any]:
    """Stream the answer of `call` into `on_text`; returns the token usage."""
    url, headers, body = _REQUESTS[call.provider](call)
    async with client.stream("POST", url, headers=headers, json=body) as response:
        if response.status_code >= 400:
            detail = (await response.aread()).decode(errors="replace")[:ERROR_BODY_CHARS]
            raise ProviderError(f"{call.provider} answered {response.status_code}: {detail}")
        return await _READERS[call.provider](_sse_data(response), on_text)


async def _sse_data(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data and data != "[DONE]":
            yield json.loads(data)


def _openai_request(call: ModelCall) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = {
        "model": call.model,
        "messages": [
            {"role": "system", "content": call.system},
            {"role": "user", "content": call.prompt},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": call.max_tokens,
        "temperature": call.temperature,
    }
    headers = {"authorization": f"Bearer {call.api_key}"}
    return f"{call.root}/chat/completions", headers, body


async def _openai_read(
    events: AsyncIterator[dict[str, Any]], on_text: TextHandler
) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    async for event in events:
        if "error" in event:
            raise ProviderError(f"openai: {event['error']}")
        for choice in event.get("choices") or []:
            if text := (choice.get("delta") or {}).get("content"):
                await on_text(text)
        if event.get("usage"):
            found = event["usage"]
            usage = {
                "input_tokens": found.get("prompt_tokens"),
                "output_tokens": found.get("completion_tokens"),
            }
    return usage


def _anthropic_request(call: ModelCall) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = {
        "model": call.model,
        "system": call.system,
        "messages": [{"role": "user", "content": call.prompt}],
        "max_tokens": call.max_tokens,
        "temperature": call.temperature,
        "stream": True,
    }
    headers = {"x-api-key": call.api_key, "anthropic-version": ANTHROPIC_VERSION}
    return f"{call.root}/v1/messages", headers, body


async def _anthropic_read(
    events: AsyncIterator[dict[str, Any]], on_text: TextHandler
) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    async for event in events:
        kind = event.get("type")
        if kind == "error":
            raise ProviderError(f"anthropic: {event.get('error')}")
        if kind == "message_start":
            usage["input_tokens"] = event["message"].get("usage", {}).get("input_tokens")
        elif kind == "content_block_delta" and event["delta"].get("type") == "text_delta":
            await on_text(event["delta"]["text"])
        elif kind == "message_delta":
            usage["output_tokens"] = event.get("usage", {}).get("output_tokens")
    return usage


def _google_request(call: ModelCall) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = {
        "systemInstruction": {"parts": [{"text": call.system}]},
        "contents": [{"role": "user", "parts": [{"text": call.prompt}]}],
        "generationConfig": {"maxOutputTokens": call.max_tokens, "temperature": call.temperature},
    }
    url = f"{call.root}/v1beta/models/{call.model}:streamGenerateContent?alt=sse"
    return url, {"x-goog-api-key": call.api_key}, body


async def _google_read(
    events: AsyncIterator[dict[str, Any]], on_text: TextHandler
) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    async for event in events:
        if "error" in event:
            raise ProviderError(f"google: {event['error']}")
        for candidate in event.get("candidates") or []:
            for part in (candidate.get("content") or {}).get("parts") or []:
                if part.get("text") and not part.get("thought"):
                    await on_text(part["text"])
        if meta := event.get("usageMetadata"):
            usage = {
                "input_tokens": meta.get("promptTokenCount"),
                "output_tokens": meta.get("candidatesTokenCount"),
            }
    return usage


_REQUESTS = {"openai": _openai_request, "anthropic": _anthropic_request, "google": _google_request}
_READERS = {"openai": _openai_read, "anthropic": _anthropic_read, "google": _google_read}
