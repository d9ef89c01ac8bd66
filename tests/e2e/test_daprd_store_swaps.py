"""The built daprd runs the stores a laptop swaps in: state in PostgreSQL (v2), secrets from env.

tools/daprd registers them although components/ does not use them; this starts the real
sidecar with both, against the tests' PostgreSQL, and uses them through Dapr's API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.support.backing import free_port
from tests.support.databases import DatabaseFactory
from tests.support.platform import daprd_binary

pytestmark = pytest.mark.e2e

APP_ID = "store-swaps"
SECRET_NAME = "DURSOR_SWAP_TEST_SECRET"
SECRET_VALUE = "from-the-environment"


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL of a test database as PostgreSQL's own driver takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


def component(name: str, component_type: str, version: str, **metadata: str) -> dict[str, object]:
    """A Dapr Component resource."""
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": component_type,
            "version": version,
            "metadata": [{"name": k, "value": v} for k, v in metadata.items()],
        },
    }


def write_resources(directory: Path, postgres_url: str) -> Path:
    """The two swapped stores and a configuration with the sqlite resolver (never mDNS)."""
    directory.mkdir()
    documents = [
        component("statestore", "state.postgresql", "v2", connectionString=postgres_url),
        component("secretstore", "secretstores.local.env", "v1"),
    ]
    (directory / "components.yaml").write_text(yaml.safe_dump_all(documents))
    config = directory.parent / "config.yaml"
    resolver = {"connectionString": str(directory.parent / "names.db")}
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Configuration",
                "metadata": {"name": "swaps"},
                "spec": {"nameResolution": {"component": "sqlite", "configuration": resolver}},
            }
        )
    )
    return config


def start_daprd(workdir: Path, postgres_url: str) -> tuple[subprocess.Popen[bytes], int]:
    """A daprd without an app, every listener on loopback; returns it and its HTTP port."""
    config = write_resources(workdir / "resources", postgres_url)
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
    process = subprocess.Popen(
        [
            str(daprd_binary()),
            *("--app-id", APP_ID, "--dapr-http-port", str(http_port)),
            *("--dapr-grpc-port", str(free_port())),
            *("--dapr-internal-grpc-port", str(free_port())),
            *("--dapr-listen-addresses", "127.0.0.1"),
            *("--dapr-internal-grpc-listen-address", "127.0.0.1"),
            *("--metrics-listen-address", "127.0.0.1", "--enable-metrics=false"),
            *("--resources-path", str(workdir / "resources"), "--config", str(config)),
        ],
        cwd=workdir,
        env=env | {SECRET_NAME: SECRET_VALUE, "DAPR_HOST_IP": "127.0.0.1"},
        stdout=(workdir / "daprd.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, http_port


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the sidecar's process group and reap it."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def log_tail(workdir: Path) -> str:
    """The end of the sidecar's log."""
    return (workdir / "daprd.log").read_text(errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def sidecar(workdir: Path, postgres_url: str) -> AsyncIterator[str]:
    """A running daprd with the swapped stores; yields its HTTP API base URL."""
    process, http_port = await asyncio.to_thread(start_daprd, workdir, postgres_url)
    url = f"http://127.0.0.1:{http_port}"
    try:
        await wait_outbound_ready(url, process, workdir)
        yield url
    finally:
        await asyncio.to_thread(stop, process)


async def wait_outbound_ready(url: str, process: subprocess.Popen[bytes], workdir: Path) -> None:
    """Until the sidecar's components are up (outbound health 204)."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"daprd exited: {await asyncio.to_thread(log_tail, workdir)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/v1.0/healthz/outbound")).status_code == 204:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"daprd not ready: {await asyncio.to_thread(log_tail, workdir)}")


async def test_state_in_postgresql_and_secrets_from_the_environment(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    postgres_url = libpq_url(await databases.fresh())
    async with sidecar(tmp_path, postgres_url) as url, httpx.AsyncClient(timeout=10) as client:
        metadata = (await client.get(f"{url}/v1.0/metadata")).json()
        loaded = {c["name"]: (c["type"], c["version"]) for c in metadata["components"]}
        assert loaded == {
            "statestore": ("state.postgresql", "v2"),
            "secretstore": ("secretstores.local.env", "v1"),
        }

        saved = await client.post(
            f"{url}/v1.0/state/statestore", json=[{"key": "swap", "value": {"n": 1}}]
        )
        assert saved.status_code == 204
        read = await client.get(f"{url}/v1.0/state/statestore/swap")
        assert read.json() == {"n": 1}

        secret = await client.get(f"{url}/v1.0/secrets/secretstore/{SECRET_NAME}")
        assert secret.json() == {SECRET_NAME: SECRET_VALUE}

    # The value is in PostgreSQL, under the v2 layout's key `<app-id>||<key>`.
    connection = await asyncpg.connect(postgres_url)
    try:
        stored = await connection.fetchval(
            "SELECT value FROM state WHERE key = $1", "store-swaps||swap"
        )
    finally:
        await connection.close()
    assert json.loads(stored) == {"n": 1}
