#!/usr/bin/env bash
# Bring the database schema to the newest revision: `alembic upgrade head`.
#
#   infra/scripts/migrate-db.sh local
#       on this machine, against DURSOR_DATABASE_URL (default: the laptop's PostgreSQL
#       of scripts/env.sh); alembic.ini and migrations/ are at the repository root.
#   infra/scripts/migrate-db.sh azure RESOURCE_GROUP [JOB_NAME]
#       as the Container Apps job of infra/ (run-api image of the last `migrate` stage,
#       signed in with the job's Entra identity): `alembic upgrade head`, then each
#       service's database login; waits and fails if either fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TIMEOUT_SECONDS="${DURSOR_MIGRATE_TIMEOUT:-1800}"

log() { printf '\033[1;34m[migrate]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[migrate]\033[0m %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

migrate_locally() {
  # shellcheck source=SCRIPTDIR/../../scripts/env.sh
  source "$ROOT/scripts/env.sh"
  log "alembic upgrade head (local database)"
  cd "$ROOT" && uv run --frozen alembic upgrade head
}

find_job() {
  az containerapp job list -g "$1" --query "[?ends_with(name, '-migrate-db')].name | [0]" -o tsv
}

start_job() {
  az containerapp job start -g "$1" -n "$2" --query name -o tsv
}

execution_status() {
  az containerapp job execution show -g "$1" -n "$2" --job-execution-name "$3" \
    --query properties.status -o tsv
}

wait_for() {
  local group="$1" job="$2" execution="$3" waited=0 status
  while [ "$waited" -lt "$TIMEOUT_SECONDS" ]; do
    status="$(execution_status "$group" "$job" "$execution")"
    case "$status" in
      Succeeded) log "migration $execution succeeded"; return 0 ;;
      Failed|Stopped|Degraded)
        die "migration $execution ended as $status; logs: az containerapp job logs show -g $group -n $job --execution $execution --container migrate (then --container logins)" ;;
    esac
    sleep 10; waited=$((waited + 10))
  done
  die "migration $execution still running after ${TIMEOUT_SECONDS}s"
}

migrate_in_azure() {
  local group="$1" job="${2:-}" execution
  command -v az >/dev/null || die "the Azure CLI (az) is required"
  [ -n "$job" ] || job="$(find_job "$group")"
  [ -n "$job" ] || die "no *-migrate-db job in $group; deploy the 'migrate' stage first"
  execution="$(start_job "$group" "$job")"
  log "started $job execution $execution"
  wait_for "$group" "$job" "$execution"
}

case "${1:-}" in
  local) migrate_locally ;;
  azure) [ $# -ge 2 ] || usage; shift; migrate_in_azure "$@" ;;
  *) usage ;;
esac
