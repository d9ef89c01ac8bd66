#!/usr/bin/env bash
# Start one service for `dapr run -f dapr.yaml`: its API token (shared with its sidecar,
# from the local secret store) in the environment, then uvicorn on loopback.
# Usage: serve-app.sh <module:factory> <port>   (APP_ID comes from the Dapr CLI)
#        serve-app.sh <module> <port>           (`python -m <module>`: a service that owns
#                                                its server options, like events_gateway)
set -euo pipefail
token="$(python3 -c 'import json,os,sys; print(json.load(open(os.environ["DURSOR_SECRETS_FILE"]))["app-api-token-" + sys.argv[1]])' "$APP_ID")"
export DAPR_API_TOKEN="$token" APP_API_TOKEN="$token"
# The service connects as its own database role, whose connection string it reads from
# the secret store; the schema owner's URL and password file are not for it.
unset DURSOR_DATABASE_URL PGPASSFILE PGPASSWORD
if [[ "$1" != *:* ]]; then
  exec uv run --frozen --no-sync python -m "$1" --host 127.0.0.1 --port "$2"
fi
# Idle connections outlive the sidecar's (dursor_kit/web/keep_alive.py says why).
exec uv run --frozen --no-sync uvicorn "$1" --factory --host 127.0.0.1 --port "$2" --no-access-log \
  --timeout-keep-alive 120
