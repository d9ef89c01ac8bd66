"""The gateway's HTTP server: uvicorn with the edge's options owned here, not by each launcher.

`python -m events_gateway --host 0.0.0.0 --port 8080`. Two options must not depend on
how the process was started: `X-Forwarded-For` is believed only from the proxies in
`DURSOR_TRUSTED_PROXIES` (uvicorn alone trusts 127.0.0.1 by default), and the request
target reaches the app as the client sent it, so an absolute-form target is refused.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from dursor_kit.web.keep_alive import APP_KEEP_ALIVE_SECONDS
from events_gateway.app import create_app
from events_gateway.settings import GatewaySettings
from events_gateway.streams.handoff import StreamHandoff


def http_protocol() -> type[asyncio.Protocol] | str:
    """httptools, keeping an absolute-form target visible; h11 when httptools is missing."""
    try:
        from events_gateway.edge.origin_form import OriginFormHttpToolsProtocol
    except ImportError:  # h11 puts the whole target in raw_path already
        return "h11"
    return OriginFormHttpToolsProtocol


def serve(host: str, port: int, log_level: str, settings: GatewaySettings) -> None:
    """Run the gateway until SIGTERM."""
    trusted = [str(network) for network in settings.trusted_proxies]
    uvicorn.run(
        StreamHandoff(create_app(settings)),
        host=host,
        port=port,
        http=http_protocol(),
        loop="uvloop",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=APP_KEEP_ALIVE_SECONDS,
        log_level=log_level,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the listen address and start serving."""
    parser = argparse.ArgumentParser(prog="python -m events_gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.log_level, GatewaySettings())
