"""Azurite (npm) as the local stand-in for Azure Blob Storage in tests.

It runs on a free loopback port with the well-known development account, keeps its data
in memory, sends no telemetry, and accepts the API version of the Python SDK we pin.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.standins.agent_clis import cli_path
from tests.support.backing import free_port

# Azurite's documented development account (public, works only against Azurite).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(port: int) -> str:
    """The connection string of the development account on `port`."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};"
    )


@contextlib.contextmanager
def running_azurite(workdir: Path) -> Iterator[str]:
    """Start azurite-blob; yields its connection string and stops it at exit."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [cli_path("azurite-blob"), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    argv += ["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
    log_path = workdir / "azurite.log"
    log = log_path.open("wb")
    process = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(process, port, log_path)
        yield connection_string(port)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite-blob exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"azurite-blob did not listen on {port} within 30 s")
