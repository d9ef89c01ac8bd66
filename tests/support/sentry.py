"""Dapr Sentry for a test platform: the mTLS CA whose identities access control checks."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.backing import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
SENTRY_CONFIG = ROOT / "tools" / "daprd" / "sentry" / "sentry.yaml"


def sentry_binary() -> Path:
    """The sentry the bootstrap built next to daprd."""
    from tests.support.platform import daprd_binary

    return daprd_binary().parent / "sentry"


@dataclass
class SentryProcess:
    """A running sentry on a loopback port and its root certificate."""

    process: subprocess.Popen[bytes]
    port: int
    trust_anchors: str

    @property
    def address(self) -> str:
        """What daprd's --sentry-address takes."""
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, credentials: Path) -> SentryProcess:
        """Start sentry (it creates a self-signed CA in `credentials`) and wait for it."""
        port = free_port()
        log = credentials.parent / "sentry.log"
        process = subprocess.Popen(
            [
                str(sentry_binary()),
                "--issuer-credentials",
                str(credentials),
                "--config",
                str(SENTRY_CONFIG),
                "--trust-domain",
                "localhost",
                "--port",
                str(port),
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port("127.0.0.1", port)
        root = credentials / "ca.crt"
        deadline = time.monotonic() + 10
        while not root.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return cls(process, port, root.read_text())

    def stop(self) -> None:
        """Terminate sentry."""
        self.process.terminate()
        self.process.wait(10)
