#!/usr/bin/env bash
# Write .env for docker-compose (git-ignored, 0600, values generated once and kept): the
# token each app and its sidecar share (APP_API_TOKEN = DAPR_API_TOKEN, one per app) and
# the PostgreSQL owner's password. Needs only python3. Called by scripts/bootstrap.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 - .env <<'PY'
import os, secrets, sys
path = sys.argv[1]
names = [f"DURSOR_COMPOSE_TOKEN_{app}" for app in ("EVENTS_GATEWAY", "RUN_API", "AGENT_RUNNER", "AUTH")]
names.append("DURSOR_COMPOSE_POSTGRES_PASSWORD")
current = {}
if os.path.exists(path):
    for line in open(path):
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            current[key] = value
wanted = {name: current.get(name) or secrets.token_urlsafe(32) for name in names}
merged = current | wanted
if merged != current:
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    # 0600 from creation, before a byte is written; then renamed over .env.
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write("".join(f"{key}={value}\n" for key, value in merged.items()))
    os.replace(tmp, path)
PY
