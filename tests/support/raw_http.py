"""HTTP/1.1 requests with the request target exactly as given (httpx would normalise it).

httpx (and most clients) resolve `..`, re-encode `%2e` or refuse control characters
before sending; an attacker's client does none of that. This one writes the bytes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawResponse:
    """Status, headers (lower-case names) and body of one answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def is_problem(self) -> bool:
        """True for an application/problem+json answer."""
        return self.headers.get("content-type", "").startswith("application/problem+json")


async def send_raw(
    port: int,
    method: str,
    target: bytes,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 30.0,
) -> RawResponse:
    """One request on a new connection to 127.0.0.1:`port`; the target is sent verbatim."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        fields = {"host": f"127.0.0.1:{port}", "connection": "close"} | (headers or {})
        if body:
            fields["content-length"] = str(len(body))
        head = b"".join(f"{k}: {v}\r\n".encode() for k, v in fields.items())
        writer.write(method.encode() + b" " + target + b" HTTP/1.1\r\n" + head + b"\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return _parse(raw)


def _parse(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return RawResponse(int(status_line.split(" ")[1]), headers, body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out
