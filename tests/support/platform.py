"""The whole platform for end-to-end tests: real uvicorn apps behind real daprd sidecars.

Every replica is an app process plus its own daprd, on free loopback ports, with the
repository's real components (`components/`). Each platform gets its own database and
Redis logical database, so platforms in one test session never see each other's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from dursor_kit.local_secrets import ensure_secrets
from dursor_kit.secret_names import (
    ADMIN_PASSWORD,
    JWT_SIGNING_KEYS,
    POSTGRES_URL,
    app_api_token,
    database_url,
)
from dursor_kit.web.keep_alive import APP_KEEP_ALIVE_SECONDS
from tests.support.backing import free_port
from tests.support.sentry import SentryProcess

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"
APPS = {
    "events-gateway": "events_gateway.app:create_app",  # started by its own server module
    "run-api": "run_api.app:create_app",
    "agent-runner": "agent_runner.app:create_app",
    "auth": "auth_service.app:create_app",
}
# Apps that own their server options (the gateway its edge, the runner its event loop).
SERVER_MODULES = {"events-gateway": "events_gateway", "agent-runner": "agent_runner"}
# A command agent for tests: writes the instruction to a file and prints a few lines.
COMMAND_TEMPLATES = {
    "append-note": [
        "sh",
        "-c",
        'printf "%s\\n" "$1" >> NOTES.md && echo "wrote NOTES.md"',
        "dursor",
        "{instruction}",
    ],
    "sleep": [
        "sh",
        "-c",
        'echo "sleeping $1"; sleep "$1"; echo "slept $1" > SLEPT.md',
        "dursor",
        "{instruction}",
    ],
    # Prints N numbered lines, a little apart (a long, chatty agent).
    "chatty": [
        "sh",
        "-c",
        'i=0; while [ "$i" -lt "$1" ]; do i=$((i+1)); echo "line $i"; '
        "sleep 0.02; done; echo done > CHATTY.md",
        "dursor",
        "{instruction}",
    ],
    # Says why on stderr and exits non-zero: a run that fails.
    "fail": ["sh", "-c", 'echo "$1" >&2; exit 3', "dursor", "{instruction}"],
    # Two grandchildren that ignore SIGTERM: only the SIGKILL after the grace period stops them.
    "stubborn": [
        "sh",
        "-c",
        "trap '' TERM; for i in 1 2; do sleep 300 & echo $! >> pids.txt; done; echo spawned; wait",
    ],
}


def daprd_binary() -> Path:
    """The daprd the bootstrap built (its directory is keyed by tools/daprd: scripts/env.sh)."""
    runtime = os.environ.get("DURSOR_DAPR_RUNTIME")
    if not runtime:
        raise RuntimeError("DURSOR_DAPR_RUNTIME is not set: source scripts/env.sh")
    binary = Path(runtime) / "libexec" / "daprd"
    if not binary.exists():
        raise RuntimeError(f"daprd not found at {binary}: run scripts/bootstrap.sh")
    return binary


@dataclass
class Replica:
    """One app process and its sidecar."""

    app_id: str
    name: str
    app_port: int
    dapr_http_port: int
    dapr_grpc_port: int
    internal_grpc_port: int
    app: subprocess.Popen[bytes]
    daprd: subprocess.Popen[bytes]
    app_log: Path
    daprd_log: Path
    api_token: str = ""
    daprd_argv: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The app's own base URL."""
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def sidecar_url(self) -> str:
        """The sidecar's HTTP API base URL."""
        return f"http://127.0.0.1:{self.dapr_http_port}"

    @property
    def sidecar_headers(self) -> dict[str, str]:
        """What a caller of the sidecar's API must present (its API token)."""
        return {"dapr-api-token": self.api_token}

    @property
    def pids(self) -> list[int]:
        """Process ids of the app and the sidecar."""
        return [self.app.pid, self.daprd.pid]

    def kill(self) -> None:
        """SIGKILL the app and its sidecar (a crashed pod)."""
        for process in (self.app, self.daprd):
            _signal_group(process, signal.SIGKILL)
        for process in (self.app, self.daprd):
            process.wait(30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the app (it drains), then its sidecar."""
        for process in (self.app, self.daprd):
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(30)

    def logs(self) -> str:
        """What the app printed so far."""
        return self.app_log.read_text(errors="replace")


def _server_command(app_id: str) -> list[str]:
    """How an app is started: by its own server module if it has one, else by uvicorn."""
    if app_id in SERVER_MODULES:
        return [sys.executable, "-m", SERVER_MODULES[app_id], "--log-level", "warning"]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        APPS[app_id],
        "--factory",
        "--no-access-log",
        "--timeout-keep-alive",
        str(APP_KEEP_ALIVE_SECONDS),
        "--log-level",
        "warning",
    ]


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


def _inherited_env() -> dict[str, str]:
    """This process's environment without dursor's, Dapr's and libpq's own settings.

    A service must not inherit the schema owner's database credentials (`PGPASSFILE`):
    it connects as its own role, with the connection string of its own secret.
    """
    own = ("DURSOR_", "DAPR_", "PG")
    return {k: v for k, v in os.environ.items() if not k.startswith(own)}


@dataclass
class Platform:
    """Four services (any number of replicas each) sharing one database and Redis DB.

    `database_url` is the schema owner's (tests inspect the database with it); each
    service gets the connection string of its own role (`service_database_urls`).
    """

    workdir: Path
    database_url: str
    redis_host: str
    redis_db: int
    redis_password: str = ""
    env: dict[str, str] = field(default_factory=dict)
    service_database_urls: dict[str, str] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)
    sentry: SentryProcess | None = None
    # Sidecars log as deployed (infra/modules/container-app.bicep: level warn, no API
    # log) instead of every API call at info, which attack tests assert on; benchmarks.
    quiet_sidecars: bool = False
    # Opt-in extra daprd flags per app id, asked once per sidecar started (benchmarks:
    # `--enable-profiling --profile-port N`); a restarted sidecar keeps its argv.
    daprd_flags: Callable[[str], list[str]] | None = None

    def __post_init__(self) -> None:
        # The sqlite name resolver's file is relative to daprd's working directory.
        (self.workdir / ".data").mkdir(exist_ok=True)
        self.secrets_file = self.workdir / "secrets.json"
        # A copy of components/ per platform: a test may change it (Dapr hot-reloads).
        self.components = self.workdir / "components"
        shutil.copytree(COMPONENTS, self.components, dirs_exist_ok=True)
        databases = {database_url(app): url for app, url in self.service_database_urls.items()}
        self.secrets = ensure_secrets(
            self.secrets_file, {POSTGRES_URL: self.database_url, **databases}
        )
        self.auth_port = free_port()

    def add_secrets(self, values: dict[str, str]) -> None:
        """Put more secrets in the local secret store (before starting the sidecars)."""
        self.secrets = ensure_secrets(self.secrets_file, values)

    def reload_sidecars(self) -> None:
        """SIGHUP every running daprd: it reloads its runtime, and the file store its file."""
        for replica in self.replicas:
            if replica.daprd.poll() is None:
                os.kill(replica.daprd.pid, signal.SIGHUP)

    @property
    def gateway(self) -> Replica:
        """The first running gateway replica."""
        return self.replica("events-gateway")

    def replica(self, app_id: str, index: int = 0) -> Replica:
        """The index-th live replica of an app."""
        live = [r for r in self.replicas if r.app_id == app_id and r.app.poll() is None]
        return live[index]

    def _tokens(self, app_id: str) -> dict[str, str]:
        """The app's API token both ways (app→sidecar and sidecar→app), from the secrets."""
        token = self.secrets[app_api_token(app_id)]
        return {"DAPR_API_TOKEN": token, "APP_API_TOKEN": token}

    def _app_env(self, app_id: str, name: str, overrides: Mapping[str, str]) -> dict[str, str]:
        env = _inherited_env()
        env.update(
            {
                "DURSOR_AUTH_ISSUER": f"http://127.0.0.1:{self.auth_port}",
                # Tests' git remotes live under the temporary directory.
                "DURSOR_LOCAL_REPOS_ROOT": tempfile.gettempdir(),
                "DURSOR_ARTIFACTS_DIR": str(self.workdir / "artifacts"),
                "DURSOR_WORKSPACES_DIR": str(self.workdir / "workspaces" / name),
                "DURSOR_COMMAND_TEMPLATES": json.dumps(COMMAND_TEMPLATES),
                # The gateway's janitor reads the Redis the components use.
                "DURSOR_REDIS_HOST": self.redis_host,
                "DURSOR_REDIS_PASSWORD": self.redis_password,
                "DURSOR_REDIS_DB": str(self.redis_db),
                # Tests send bursts; the rate limit has a test of its own.
                "DURSOR_RATE_LIMIT_PER_SECOND": "10000",
                "DURSOR_RATE_LIMIT_BURST": "100000",
                "DURSOR_LOG_FORMAT": "json",
                "DURSOR_SIDECAR_WAIT_SECONDS": "60",
                # Spans go to a file per replica, scanned with the logs for credentials.
                "DURSOR_OTEL_SPANS_FILE": str(self.workdir / "logs" / f"{name}.spans.jsonl"),
                "OTEL_BSP_SCHEDULE_DELAY": "500",
                **self._sandbox_env(),
            }
        )
        env.update(self.env)
        env.update(overrides)
        return env | self._tokens(app_id)

    def _sandbox_env(self) -> dict[str, str]:
        """Agents run jailed (the default); where the host cannot jail, with the warning."""
        tools = Path(os.environ.get("DURSOR_CACHE", Path.home() / ".cache" / "dursor"))
        return {
            # Takes effect only where the runner's probe says this host cannot jail.
            "DURSOR_SANDBOX_ALLOW_UNJAILED": "true",
            "DURSOR_SANDBOX_STATE_DIR": str(self.workdir / "sandbox"),
            # The tests' scripted model servers listen on this host's loopback.
            "DURSOR_SANDBOX_ALLOW_LOOPBACK_UPSTREAMS": "true",
            "DURSOR_SANDBOX_READ_ONLY": json.dumps([str(tools / "node-tools")]),
        }

    def _daprd_env(self, app_id: str) -> dict[str, str]:
        env = _inherited_env()
        env.update(
            {
                "DAPR_HOST_IP": "127.0.0.1",
                "DURSOR_REDIS_HOST": self.redis_host,
                "DURSOR_REDIS_PASSWORD": self.redis_password,
                "DURSOR_REDIS_DB": str(self.redis_db),
                "DURSOR_SECRETS_FILE": str(self.secrets_file),
                "DAPR_TRUST_ANCHORS": self._sentry().trust_anchors,
            }
        )
        return env | self._tokens(app_id)

    def _sentry(self) -> SentryProcess:
        if self.sentry is None:
            self.sentry = SentryProcess.start(self.workdir / "sentry")
        return self.sentry

    def start(
        self,
        app_id: str,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        app_port: int | None = None,
        components: Path | None = None,
        command: list[str] | None = None,
    ) -> Replica:
        """Start one replica (app + daprd); call `wait_ready` before using it.

        `components` replaces the platform's copy of components/ for this sidecar only;
        `command` starts an app that is not one of ours (an integration) under `app_id`.
        """
        components = components or self.components
        name = name or f"{app_id}-{len([r for r in self.replicas if r.app_id == app_id])}"
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        ports = {
            "app": app_port or (self.auth_port if app_id == "auth" else free_port()),
            "http": free_port(),
            "grpc": free_port(),
            "internal": free_port(),
        }
        app_env = self._app_env(app_id, name, env or {}) | {
            "APP_ID": app_id,
            "DAPR_HTTP_PORT": str(ports["http"]),
            "DAPR_GRPC_PORT": str(ports["grpc"]),
        }
        app_log, daprd_log = logs / f"{name}.log", logs / f"{name}.daprd.log"
        app = subprocess.Popen(
            [
                *(command or _server_command(app_id)),
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["app"]),
            ],
            cwd=ROOT,
            env=app_env,
            stdout=app_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        daprd_argv = self._daprd_argv(app_id, ports, components)
        daprd = self._launch_daprd(app_id, daprd_argv, daprd_log)
        replica = Replica(
            app_id,
            name,
            ports["app"],
            ports["http"],
            ports["grpc"],
            ports["internal"],
            app,
            daprd,
            app_log,
            daprd_log,
            self.secrets[app_api_token(app_id)],
            daprd_argv,
        )
        self.replicas.append(replica)
        return replica

    def _daprd_argv(self, app_id: str, ports: dict[str, int], components: Path) -> list[str]:
        return [
            str(daprd_binary()),
            "--app-id",
            app_id,
            "--app-port",
            str(ports["app"]),
            "--app-protocol",
            "http",
            "--dapr-http-port",
            str(ports["http"]),
            "--dapr-grpc-port",
            str(ports["grpc"]),
            "--dapr-internal-grpc-port",
            str(ports["internal"]),
            "--dapr-listen-addresses",
            "127.0.0.1",
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
            "--metrics-listen-address",
            "127.0.0.1",
            "--enable-metrics=false",
            "--resources-path",
            str(components),
            "--config",
            str(components / "config" / f"{app_id}.yaml"),
            "--enable-mtls",
            "--sentry-address",
            self._sentry().address,
            "--log-level",
            "warn" if self.quiet_sidecars else "info",
            # Every call an app makes to its sidecar's API is logged (attack tests
            # assert on it that refused requests reached no sidecar).
            *([] if self.quiet_sidecars else ["--enable-api-logging"]),
            *(self.daprd_flags(app_id) if self.daprd_flags else []),
        ]

    def _launch_daprd(self, app_id: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            cwd=self.workdir,
            env=self._daprd_env(app_id),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def restart_daprd(self, replica: Replica) -> None:
        """Start a dead replica's sidecar again on its own ports (what Container Apps does)."""
        if replica.daprd.poll() is None:
            raise RuntimeError(f"{replica.name}'s daprd is still running")
        replica.daprd = self._launch_daprd(replica.app_id, replica.daprd_argv, replica.daprd_log)

    async def wait_ready(self, replica: Replica, timeout: float = 90.0) -> None:
        """Until the app answers /readyz and its sidecar /v1.0/healthz."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                for process, log in (
                    (replica.app, replica.app_log),
                    (replica.daprd, replica.daprd_log),
                ):
                    if process.poll() is not None:
                        raise RuntimeError(f"{replica.name} exited: {log.read_text()[-3000:]}")
                if await _ok(client, f"{replica.url}/readyz", 200) and await _ok(
                    client, f"{replica.sidecar_url}/v1.0/healthz", 204
                ):
                    return
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{replica.name} not ready: {replica.app_log.read_text()[-3000:]}")

    async def start_all(self) -> None:
        """One replica of every app, all ready."""
        started = [self.start(app_id) for app_id in APPS]
        await asyncio.gather(*(self.wait_ready(r) for r in started))

    def stop_all(self) -> None:
        """Stop every replica that is still running."""
        for replica in reversed(self.replicas):
            replica.stop(timeout=20)
        if self.sentry is not None:
            self.sentry.stop()

    async def token(self, username: str = "admin", password: str | None = None) -> str:
        """An access token from the local issuer, through the gateway."""
        password = password or self.secrets[ADMIN_PASSWORD]
        async with httpx.AsyncClient(base_url=self.gateway.url, timeout=30) as client:
            response = await client.post(
                "/v1/auth/token", json={"username": username, "password": password}
            )
            response.raise_for_status()
            token: str = response.json()["access_token"]
            return token

    def mint_token(
        self, role: str, subject: str | None = None, ttl: int = 3600, **claims: Any
    ) -> str:
        """A token signed by this platform's local issuer key, for any role (tests only)."""
        key = json.loads(self.secrets[JWT_SIGNING_KEYS])[0]
        now = int(time.time())
        body = {
            "iss": f"http://127.0.0.1:{self.auth_port}",
            "aud": "dursor",
            "sub": subject or f"test-{role}",
            "preferred_username": subject or f"test-{role}",
            "roles": [role],
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        } | claims
        return jwt.encode(body, key["pem"], algorithm="RS256", headers={"kid": key["kid"]})

    def bearer(
        self, role: str, subject: str | None = None, ttl: int = 3600, **claims: Any
    ) -> dict[str, str]:
        """An `authorization` header carrying a fresh `mint_token`."""
        return {"authorization": f"Bearer {self.mint_token(role, subject, ttl, **claims)}"}

    async def new_task(self, repo_url: str, title: str, gateway_url: str | None = None) -> str:
        """A repository and a task on it, created by a developer through a gateway; its id."""
        async with httpx.AsyncClient(
            base_url=gateway_url or self.gateway.url, headers=self.bearer("developer"), timeout=30
        ) as client:
            repo = await client.post("/v1/repos", json={"url": repo_url})
            assert repo.status_code == 201, repo.text
            task = await client.post(
                "/v1/tasks", json={"repo_id": repo.json()["id"], "title": title}
            )
            assert task.status_code == 201, task.text
            task_id: str = task.json()["id"]
            return task_id

    async def sidecar_metadata(self, replica: Replica) -> dict[str, Any]:
        """What a sidecar reports about its components and subscriptions."""
        async with httpx.AsyncClient(timeout=10) as client:
            result: dict[str, Any] = (
                await client.get(
                    f"{replica.sidecar_url}/v1.0/metadata", headers=replica.sidecar_headers
                )
            ).json()
            return result


async def _ok(client: httpx.AsyncClient, url: str, status: int) -> bool:
    try:
        return (await client.get(url)).status_code == status
    except httpx.HTTPError:
        return False
