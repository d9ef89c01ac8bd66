#!/usr/bin/env bash
# Attach the example integration to a platform already started by scripts/run.sh: its
# own app id and sidecar (examples/integration/dapr.yaml), the platform's Redis, Sentry
# and name resolution. Create its service identity first (an Admin, once):
#   POST /v1/users {"username": "ticket-bridge", "role": "developer",
#                   "issuer": "urn:dursor:integrations", "subject": "ticket-bridge"}
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$DURSOR_ROOT"
[ -s "$DURSOR_DATA/sentry/ca.crt" ] || { echo "start the platform first: bash scripts/run.sh" >&2; exit 1; }
DAPR_TRUST_ANCHORS="$(cat "$DURSOR_DATA/sentry/ca.crt")"
export DAPR_TRUST_ANCHORS
exec dapr run -f examples/integration/dapr.yaml
