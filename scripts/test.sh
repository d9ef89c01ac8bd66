#!/usr/bin/env bash
# Bootstrap, then run every check CI runs: lint, format, types, and the test suite
# (unit, integration against real Postgres/Redis, end-to-end with real daprd sidecars).
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/e2e -x`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"
bash scripts/bootstrap.sh --with-test-tools
log "ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
log "mypy --strict"
uv run --frozen mypy
log "web UI: eslint, tsc --noEmit, vitest, bundle report"
(cd web && npm run -s lint && npm run -s test && npm run -s bundle-report)
log "pytest"
uv run --frozen pytest "$@"
