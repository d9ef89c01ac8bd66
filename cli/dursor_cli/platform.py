"""The local platform of `scripts/run.sh`: its apps, sidecars and Sentry, and their health.

The ports are those of `dapr.yaml` and `scripts/run.sh` (a test keeps them in step).
"""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from dursor_cli.errors import CliError, ExitCode

APPS = (
    ("events-gateway", 8080, 3500, 3520),
    ("run-api", 8081, 3501, 3521),
    ("agent-runner", 8082, 3502, 3522),
    ("auth", 8083, 3503, 3523),
)
SENTRY_PORT = 3530
WEB_PORT = 5173


@dataclass(frozen=True)
class Probe:
    """One thing to check: an app's /readyz, a sidecar's /v1.0/healthz, or a listening port."""

    name: str
    kind: str  # app, sidecar, sentry, web
    port: int
    path: str | None
    expect: int = 200


@dataclass(frozen=True)
class Health:
    """What a probe found."""

    probe: Probe
    healthy: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        """The `--json` shape of one component."""
        return {
            "name": self.probe.name,
            "kind": self.probe.kind,
            "port": self.probe.port,
            "url": _url(self.probe),
            "healthy": self.healthy,
            "detail": self.detail,
        }


def probes() -> list[Probe]:
    """Every app and sidecar of the platform, then Sentry and the web UI."""
    found: list[Probe] = []
    for app_id, app_port, http_port, _ in APPS:
        found.append(Probe(app_id, "app", app_port, "/readyz", 200))
        found.append(Probe(f"{app_id} sidecar", "sidecar", http_port, "/v1.0/healthz", 204))
    found.append(Probe("sentry", "sentry", SENTRY_PORT, None))
    found.append(Probe("web UI", "web", WEB_PORT, "/", 200))
    return found


def _url(probe: Probe) -> str:
    path = probe.path or ""
    return f"http://127.0.0.1:{probe.port}{path}" if probe.path else f"tcp://127.0.0.1:{probe.port}"


def check(probe: Probe, client: httpx.Client) -> Health:
    """Probe once."""
    if probe.path is None:
        try:
            with socket.create_connection(("127.0.0.1", probe.port), timeout=1.0):
                return Health(probe, True, "listening")
        except OSError as exc:
            return Health(probe, False, exc.strerror or "not listening")
    try:
        response = client.get(_url(probe))
    except httpx.HTTPError as exc:
        return Health(probe, False, type(exc).__name__)
    healthy = response.status_code == probe.expect
    return Health(probe, healthy, "ready" if healthy else f"answered {response.status_code}")


def check_all() -> list[Health]:
    """Probe everything at once."""
    all_probes = probes()
    with httpx.Client(timeout=3.0) as client, ThreadPoolExecutor(len(all_probes)) as pool:
        return list(pool.map(lambda p: check(p, client), all_probes))


def wait_ready(timeout: float) -> list[Health]:
    """Probe until everything is healthy; exit 1 with what is not after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        results = check_all()
        if all(h.healthy for h in results):
            return results
        if time.monotonic() > deadline:
            waiting = ", ".join(f"{h.probe.name} ({h.detail})" for h in results if not h.healthy)
            raise CliError(f"not ready after {timeout:.0f}s: {waiting}", ExitCode.FAILED)
        time.sleep(0.25)


def repository_root(given: Path | None) -> Path:
    """The dursor checkout holding scripts/run.sh: given, `$DURSOR_ROOT`, or above here."""
    candidates = [given] if given else []
    if env := os.environ.get("DURSOR_ROOT"):
        candidates.append(Path(env))
    here = Path.cwd().resolve()
    candidates += [here, *here.parents]
    for candidate in candidates:
        if (candidate / "scripts" / "run.sh").is_file() and (candidate / "dapr.yaml").is_file():
            return candidate
    raise CliError(
        "no dursor checkout here: run inside the repository or pass --root", ExitCode.USAGE
    )
