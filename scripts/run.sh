#!/usr/bin/env bash
# Bootstrap, then run the platform: four services, each behind its own daprd sidecar
# (`dapr run -f dapr.yaml`). Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"
bash scripts/bootstrap.sh
source scripts/local-config.sh
log "gateway: http://127.0.0.1:8080  (admin password: .data/secrets.json, key admin-password)"
log "get a token: curl -s -X POST http://127.0.0.1:8080/v1/auth/token -H 'content-type: application/json' -d '{\"username\":\"admin\",\"password\":\"…\"}'"
exec dapr run -f dapr.yaml
