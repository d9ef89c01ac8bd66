#!/usr/bin/env bash
# Bootstrap, then run the platform: Sentry (mTLS identities for access control) and the
# four services, each behind its own daprd sidecar (`dapr run -f dapr.yaml`).
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"
bash scripts/bootstrap.sh
source scripts/local-config.sh

credentials="$DURSOR_DATA/sentry"
"$DURSOR_DAPR_RUNTIME/libexec/sentry" --issuer-credentials "$credentials" \
  --config tools/daprd/sentry/sentry.yaml --trust-domain localhost \
  --listen-address 127.0.0.1 --port 50001 >"$DURSOR_DATA/sentry.log" 2>&1 &
sentry_pid=$!
# The web UI: web/dist on http://127.0.0.1:5173, /v1 proxied to the gateway (web/vite.config.ts).
(cd web && exec node_modules/.bin/vite preview --logLevel warn) &
web_pid=$!
trap 'kill "$sentry_pid" "$web_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$credentials/ca.crt" ] && break; sleep 0.1; done
[ -s "$credentials/ca.crt" ] || die "Sentry did not start; see $DURSOR_DATA/sentry.log"
DAPR_TRUST_ANCHORS="$(cat "$credentials/ca.crt")"
export DAPR_TRUST_ANCHORS

log "gateway: http://127.0.0.1:8080  (admin password: .data/secrets.json, key admin-password)"
log "web UI:  http://127.0.0.1:5173  (sign in as admin)"
log "get a token: curl -s -X POST http://127.0.0.1:8080/v1/auth/token -H 'content-type: application/json' -d '{\"username\":\"admin\",\"password\":\"…\"}'"
dapr run -f dapr.yaml
