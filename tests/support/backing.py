"""Real PostgreSQL and Redis for tests: from the environment, testcontainers, or local processes.

`.ci/run` starts both and exports `DURSOR_DATABASE_URL` / `DURSOR_REDIS_HOST`; a laptop
with a Docker engine gets containers; otherwise the Debian binaries run as processes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from dursor_kit.secret_file import write_private
from tests.support.workers import worker_share

# Ports handed out below the kernel's ephemeral range (32768+): a port taken from
# that range can be grabbed as the source port of some outgoing connection before
# the process it was meant for binds it. Each pytest-xdist worker hands out its own slice:
# a port another worker just found free may not be bound by its process yet.
_PORT_RANGE = worker_share(range(20000, 32000))
_next_port = itertools.count(random.randrange(len(_PORT_RANGE)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing holds and no other caller here was given."""
    for _ in range(len(_PORT_RANGE)):
        port = _PORT_RANGE[next(_next_port) % len(_PORT_RANGE)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port left in {_PORT_RANGE}")


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


@dataclass(frozen=True)
class Backing:
    """Where the tests' database server and Redis are."""

    database_url: str
    redis_host: str
    redis_password: str = ""


def docker_available() -> bool:
    """True when a Docker engine answers (testcontainers can run)."""
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    return result.returncode == 0


@contextlib.contextmanager
def backing_services() -> Iterator[Backing]:
    """The database server and Redis the tests use, started if nothing is given."""
    url, redis_host = os.environ.get("DURSOR_DATABASE_URL"), os.environ.get("DURSOR_REDIS_HOST")
    with contextlib.ExitStack() as stack:
        if not url:
            url = stack.enter_context(_postgres())
        if not redis_host:
            redis_host = stack.enter_context(_redis())
        yield Backing(url, redis_host, os.environ.get("DURSOR_REDIS_PASSWORD", ""))


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="asyncpg") as container:
            yield container.get_connection_url()
        return
    with postgres_process() as url:
        yield url


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    if docker_available():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7") as container:
            yield f"{container.get_container_host_ip()}:{container.get_exposed_port(6379)}"
        return
    with redis_process() as (host, _):
        yield host


def _pg_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin")):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")


@contextlib.contextmanager
def postgres_process() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port."""
    bin_dir, port, password = _pg_bin(), free_port(), secrets.token_urlsafe(18)
    data = Path(tempfile.mkdtemp(prefix="dursor-pg-"))
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pwfile = data.with_name(f"{data.name}.pw")
    write_private(pwfile, password)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        shutil.chown(pwfile, "postgres")
    # Passwords only, as the bootstrap's server: services log in as their own roles.
    subprocess.run(
        [
            *as_owner,
            *[str(bin_dir / "initdb"), "-D", str(data), "-U", "dursor"],
            *["--auth=scram-sha-256", f"--pwfile={pwfile}"],
        ],
        check=True,
        capture_output=True,
    )
    pwfile.unlink()
    server = subprocess.Popen(
        [
            *as_owner,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=300",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        time.sleep(0.5)
        yield f"postgresql+asyncpg://dursor:{password}@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def redis_process(port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway Redis on a loopback port (the real redis-server binary)."""
    port = port or free_port()
    data = Path(tempfile.mkdtemp(prefix="dursor-redis-"))
    server = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield f"127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def database_url_for(server_url: str, database: str) -> str:
    """The same server, another database."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)
