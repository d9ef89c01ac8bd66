"""The web UI image: hadolint-clean, pinned, non-root nginx on 8080, SPA caching rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import REPO
from .test_containers import final_stage, instructions, lint

WEB = REPO / "web"
DOCKERFILE = WEB / "Dockerfile"
SERVER = WEB / "nginx" / "default.conf.template"
RUNTIME_CONFIG = WEB / "src" / "auth" / "runtimeConfig.ts"


def test_web_dockerfile_passes_hadolint() -> None:
    """No finding at all, style included."""
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_web_image_is_pinned_non_root_on_8080_with_a_health_check() -> None:
    """Exact base tags, an unprivileged user, port 8080 and /healthz."""
    bases = [args.split()[0] for name, args in instructions(DOCKERFILE) if name == "FROM"]
    assert all(re.search(r":\d[\w.-]*$", base) for base in bases), bases
    last = final_stage(DOCKERFILE)
    users = [args for name, args in last if name == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert ("EXPOSE", "8080") in last
    assert "http://127.0.0.1:8080/healthz" in dict(last)["HEALTHCHECK"]
    assert "listen 8080;" in SERVER.read_text()


def test_server_caches_hashed_assets_forever_and_falls_back_to_the_spa() -> None:
    """/assets/ immutable for a year (404 when missing); other paths get index.html, uncached."""
    server = SERVER.read_text()
    assets = server[server.index("location /assets/") :]
    assert "max-age=31536000, immutable" in assets.split("}")[0]
    assert "try_files $uri =404;" in assets.split("}")[0]
    spa = server[server.index("location / {") :].split("}")[0]
    assert "try_files $uri /index.html;" in spa
    assert '"no-cache"' in spa


def test_config_json_carries_what_the_ui_reads() -> None:
    """The rendered /config.json is JSON with the fields parseRuntimeConfig reads."""
    server = SERVER.read_text()
    body = re.search(r"return 200 '(\{.*\})';", server)
    assert body is not None
    rendered = re.sub(r"\$\{(DURSOR_WEB_[A-Z_]+)\}", "x", body.group(1))
    config = json.loads(rendered)
    assert set(config) == {"apiBaseUrl", "authMode", "entra"}
    assert set(config["entra"]) == {"clientId", "tenantId", "scopes"}
    reader = RUNTIME_CONFIG.read_text()
    for field in ("apiBaseUrl", "authMode", "clientId", "tenantId", "scopes"):
        assert field in reader, field
    # Every variable the template uses has a default in the image (envsubst leaves unset ones).
    used = set(re.findall(r"\$\{(DURSOR_WEB_[A-Z_]+)\}", server))
    assert used <= set(re.findall(r"(DURSOR_WEB_[A-Z_]+)=", DOCKERFILE.read_text()))


def test_dockerignore_keeps_local_builds_out_of_the_context() -> None:
    """node_modules and dist are rebuilt inside the image, never copied from a laptop."""
    ignored = Path(WEB / ".dockerignore").read_text().split()
    assert {"node_modules", "dist"} <= set(ignored)
