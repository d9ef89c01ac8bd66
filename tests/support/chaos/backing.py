"""PostgreSQL and Redis servers of a chaos run's own, which it may stop and start at will.

The shared servers every other test uses must never restart under them, so a chaos
platform gets a PostgreSQL cluster (initdb into a temporary folder) and a redis-server
of its own, each on a fixed loopback port that survives its restarts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dursor_kit.secret_file import write_private
from tests.support.backing import _pg_bin, free_port, wait_for_port


def _wait_closed(port: int, timeout: float = 30.0) -> None:
    """Until nothing accepts connections on the port any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} still open after {timeout}s")


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster in a folder of its own; `stop()` and `start()` keep its data."""

    data: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dursor-chaos-pg-")))
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The superuser's connection string (asyncpg)."""
        return f"postgresql+asyncpg://dursor:{self.password}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def init(self) -> PrivatePostgres:
        """initdb (password logins only, as the shared server), then start."""
        pwfile = self.data.with_name(f"{self.data.name}.pw")
        write_private(pwfile, self.password)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
            shutil.chown(pwfile, "postgres")
        initdb = [str(_pg_bin() / "initdb"), "-D", str(self.data), "-U", "dursor"]
        subprocess.run(
            [*self._as_owner(), *initdb, "--auth=scram-sha-256", f"--pwfile={pwfile}"],
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        self.start()
        return self

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        server = [str(_pg_bin() / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        options += ["-c", "max_connections=400", "-k", str(self.data)]
        self.process = subprocess.Popen(
            [*self._as_owner(), *server, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.port, timeout=60)

    def stop(self) -> None:
        """Fast shutdown (what a managed server's restart does): sessions are cut, data kept."""
        if self.process is None or self.process.poll() is not None:
            return
        # The postmaster is runuser's child: signal the whole session.
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(60)
        _wait_closed(self.port)
        # The postmaster may outlive runuser by its shutdown checkpoint: wait for its lock.
        deadline = time.monotonic() + 60
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def destroy(self) -> None:
        """Stop and remove the cluster."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A redis-server without persistence: a restart loses every stream and key (worst case)."""

    port: int = field(default_factory=free_port)
    data: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dursor-chaos-redis-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """host:port, as the components and the gateway's janitor take it."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> PrivateRedis:
        """Start on the fixed port and wait until it accepts connections."""
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.data)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        """Kill the server (SIGKILL: no goodbye to its clients)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait(30)
        _wait_closed(self.port)

    def destroy(self) -> None:
        """Stop and remove its folder."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
