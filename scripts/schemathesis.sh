#!/usr/bin/env bash
# Property-based API tests of run-api, through the gateway, with schemathesis: the
# schema is run-api's own /openapi.json, every request goes to the gateway (edge auth,
# Dapr service invocation, run-api), authenticated as an admin. Fails on any 5xx and on
# any response (status, media type, headers, body) the schema does not declare.
#
#   bash scripts/run.sh &                 # the platform, gateway on :8080
#   bash scripts/schemathesis.sh          # full run (a few minutes)
#   bash scripts/schemathesis.sh --max-examples 3 --phases examples,coverage   # quick
#
# Environment: GATEWAY_URL (default http://127.0.0.1:8080), RUN_API_URL (default
# http://127.0.0.1:8081, run-api's own port, only for the schema), TOKEN (an admin
# bearer token; by default one is fetched with the local admin password). Extra
# arguments go to `schemathesis run`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"

GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
RUN_API_URL="${RUN_API_URL:-http://127.0.0.1:8081}"

if [ -z "${TOKEN:-}" ]; then
  password=$(python3 -c "import json; print(json.load(open('$DURSOR_DATA/secrets.json'))['admin-password'])")
  TOKEN=$(curl -sf -X POST "$GATEWAY_URL/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"username\": \"admin\", \"password\": \"$password\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
fi

# Its crash cache and default reports go under .data/ (git-ignored), not the work tree.
mkdir -p "$DURSOR_DATA/schemathesis"
cd "$DURSOR_DATA/schemathesis"
exec uv run --frozen --project "$DURSOR_ROOT" schemathesis run "$RUN_API_URL/openapi.json" \
  --url "$GATEWAY_URL" \
  --header "Authorization: Bearer $TOKEN" \
  --include-path-regex '^/v1/' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --request-timeout 30 \
  --suppress-health-check too_slow,filter_too_much \
  --output-sanitize true \
  "$@"
