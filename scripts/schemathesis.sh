#!/usr/bin/env bash
# Property-based API tests of the public API with schemathesis: the schema is the
# gateway's merged /openapi.json (every /v1/ operation of run-api, auth and the gateway,
# live streams excepted), every request goes through the gateway (edge checks and rate
# limit, Dapr service invocation, the app), authenticated as an admin, paced at the
# gateway's configured rate limit. Fails on any 5xx and on any response (status, media
# type, headers, body) the document does not declare.
#
#   bash scripts/run.sh &             # the platform, gateway on :8080
#   bash scripts/schemathesis.sh      # the full run: every phase, stateful included
#   bash scripts/schemathesis.sh --phases examples,fuzzing --max-examples 12   # bounded (CI)
#
# Environment: GATEWAY_URL (default http://127.0.0.1:8080), TOKEN (an admin bearer
# token; by default one is fetched with the local admin password), RATE_LIMIT
# (default: DURSOR_RATE_LIMIT_PER_SECOND per second, the gateway's own setting, 20).
# Extra arguments go to `schemathesis run`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"

GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
RATE_LIMIT="${RATE_LIMIT:-${DURSOR_RATE_LIMIT_PER_SECOND:-20}/s}"

if [ -z "${TOKEN:-}" ]; then
  password=$(python3 -c "import json; print(json.load(open('$DURSOR_DATA/secrets.json'))['admin-password'])")
  TOKEN=$(curl -sf -X POST "$GATEWAY_URL/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"username\": \"admin\", \"password\": \"$password\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
fi

# Its crash cache and default reports go under .data/ (git-ignored), not the work tree.
mkdir -p "$DURSOR_DATA/schemathesis"
cd "$DURSOR_DATA/schemathesis"
exec uv run --frozen --project "$DURSOR_ROOT" schemathesis run "$GATEWAY_URL/openapi.json" \
  --url "$GATEWAY_URL" \
  --header "Authorization: Bearer $TOKEN" \
  --include-path-regex '^/v1/' \
  --exclude-path-regex '/stream$' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --rate-limit "$RATE_LIMIT" \
  --request-timeout 30 \
  --suppress-health-check too_slow,filter_too_much \
  --output-sanitize true \
  "$@"
