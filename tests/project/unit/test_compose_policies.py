"""docker-compose.yml gives each app the same least privilege as a laptop, within compose's means.

Compose runs no Sentry, so sidecars cannot tell callers apart (docker/components/config/
says what that leaves open); secrets, topics and the app tokens hold as on a laptop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dursor_kit.secret_names import APP_IDS, SECRETS_READ_BY

ROOT = Path(__file__).resolve().parents[3]


def compose() -> dict[str, Any]:
    """The services of docker-compose.yml, anchors resolved, variables not interpolated."""
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def compose_configuration(app_id: str) -> dict[str, Any]:
    """The Dapr Configuration compose gives one app's sidecar."""
    sidecar = compose()[f"{app_id}-dapr"]["command"]
    path = sidecar[sidecar.index("--config") + 1]
    assert path == f"/compose-config/config/{app_id}.yaml"
    document: dict[str, Any] = yaml.safe_load(
        (ROOT / "docker" / "components" / "config" / f"{app_id}.yaml").read_text()
    )
    return document


@pytest.mark.parametrize("app_id", APP_IDS)
def test_each_sidecar_reads_only_its_apps_secrets(app_id: str) -> None:
    (scope,) = compose_configuration(app_id)["spec"]["secrets"]["scopes"]
    assert scope["defaultAccess"] == "deny"
    assert scope["allowedSecrets"] == list(SECRETS_READ_BY[app_id])


@pytest.mark.parametrize("app_id", ["events-gateway", "agent-runner"])
def test_nobody_invokes_the_gateway_or_the_runner(app_id: str) -> None:
    control = compose_configuration(app_id)["spec"]["accessControl"]
    assert control == {"defaultAction": "deny"}


@pytest.mark.parametrize("app_id", APP_IDS)
def test_each_app_and_its_sidecar_share_a_token_of_their_own(app_id: str) -> None:
    services = compose()
    app, sidecar = services[app_id]["environment"], services[f"{app_id}-dapr"]["environment"]
    variable = f"DURSOR_COMPOSE_TOKEN_{app_id.upper().replace('-', '_')}"
    assert app["APP_API_TOKEN"].startswith(f"${{{variable}:?")
    for environment in (app, sidecar):
        assert environment["APP_API_TOKEN"] == environment["DAPR_API_TOKEN"] == app["APP_API_TOKEN"]


def test_services_never_get_the_owners_database_url() -> None:
    services = compose()
    for app_id in APP_IDS:
        assert "DURSOR_DATABASE_URL" not in services[app_id]["environment"]
    assert "POSTGRES_HOST_AUTH_METHOD" not in services["postgres"]["environment"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")
