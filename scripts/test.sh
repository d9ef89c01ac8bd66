#!/usr/bin/env bash
# Bootstrap, then run every check CI runs: lint, format, types, and the test suite
# (unit, integration against real Postgres/Redis, end-to-end with real daprd sidecars).
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/e2e -x`. Two pytest-xdist workers
# (DURSOR_TEST_WORKERS) share the suite file by file, so a module's platform stays in one
# worker; a run of a single file needs none, and `-n 0` after the arguments turns them off.
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
workers="${DURSOR_TEST_WORKERS:-2}"
files=0 dirs=0
for arg in "$@"; do
  if [ -f "${arg%%::*}" ]; then files=$((files + 1)); elif [ -d "$arg" ]; then dirs=1; fi
done
# One file's tests all go to one worker anyway: skip starting the others.
[ "$files" = 1 ] && [ "$dirs" = 0 ] && workers=0
uv run --frozen pytest -n "$workers" --dist loadfile "$@"
