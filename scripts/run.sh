#!/usr/bin/env bash
# Bootstrap, then run the platform: Sentry (mTLS identities for access control) and the
# four services, each behind its own daprd sidecar (`dapr run -f dapr.yaml`). One "ready"
# line once every app and sidecar answers its readiness check.
# Ctrl-C stops everything (a second Ctrl-C kills at once); so do scripts/stop.sh and
# `dursor down`. `--detach` runs it in the background (log: .data/platform.log) and returns
# once it is ready. Logs are human-readable on a terminal, JSON otherwise
# (DURSOR_LOG_FORMAT=json|console decides).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"
[ -n "${DURSOR_SKIP_BOOTSTRAP:-}" ] || bash scripts/bootstrap.sh
if [ "${1:-}" = "--detach" ]; then exec bash scripts/detach.sh; fi
source scripts/local-config.sh
source scripts/platform.sh
require_free_ports
trap stop_platform EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

credentials="$DURSOR_DATA/sentry"
export DURSOR_SENTRY_PORT="$SENTRY_PORT"  # the daprd shim points each sidecar there
"$DURSOR_DAPR_RUNTIME/libexec/sentry" --issuer-credentials "$credentials" \
  --config tools/daprd/sentry/sentry.yaml --trust-domain localhost \
  --listen-address 127.0.0.1 --port "$SENTRY_PORT" >"$DURSOR_DATA/sentry.log" 2>&1 &
for _ in $(seq 100); do [ -s "$credentials/ca.crt" ] && break; sleep 0.1; done
[ -s "$credentials/ca.crt" ] || die "Sentry did not start; see $DURSOR_DATA/sentry.log"
DAPR_TRUST_ANCHORS="$(cat "$credentials/ca.crt")"
export DAPR_TRUST_ANCHORS
if [ -z "${DURSOR_LOG_FORMAT:-}" ]; then
  DURSOR_LOG_FORMAT=json
  [ -t 1 ] && DURSOR_LOG_FORMAT=console
fi
export DURSOR_LOG_FORMAT

log "starting: gateway http://127.0.0.1:8080 (admin password: .data/secrets.json, key admin-password)"
log "web UI: http://127.0.0.1:5173 (sign in as admin)"
# The web UI: web/dist on 127.0.0.1:5173, /v1 proxied to the gateway (web/vite.config.ts).
(cd web && exec node_modules/.bin/vite preview --logLevel warn) &
start_apps
announce_ready &
wait_for_apps
